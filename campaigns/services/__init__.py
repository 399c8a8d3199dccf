"""Every write to campaigns' data, split by sub-domain.

- `transitions`: the one table of legal status changes of batches and photos, and the helpers
  that make every status write (conditional UPDATEs and checked inserts);
- `teams`: teams, memberships, campaigns and ads (created, edited, deleted);
- `batches`: an upload becomes a batch; fan-out to the inference queue, close, recount,
  fail, the sweeper that resumes stalled batches, and deletion with its stored files;
- `extraction`: the uploaded archive becomes stored photos and one row per member;
- `images`: a chunk of photos is claimed, analysed and its faces stored;
- `reprocess`: finished batches analysed again with another model version;
- `retention`: stored photos deleted under the retention policy.

The tallies and timeline rollups are analytics' (analytics/services), kept in step through
`campaigns.hooks`.
"""
