"""The analysis' reads, split by what they answer.

- `dashboards`: the filters, readings (model versions and their corrections) and emotion
  counts aggregated in the database for dashboards and exports;
- `decisions`: which ad wins, by how much, when viewers react, how segments and the team's
  norms compare;
- `results`: a campaign's dashboard figures in one object, for its page, the API and exports.
"""
