"""Every read the views, tasks and services of campaigns make, split by what they read.

- `scoping`: rows a user may reach (their teams' campaigns, ads, batches, photos); another
  team's row is a 404;
- `batches`: an upload's counts, progress and problem members.

The dashboards' reads are analytics' (analytics/selectors).
"""
