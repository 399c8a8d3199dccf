"""The analysis' reads, split by what they answer.

- `dashboards`: the filters, readings (model versions and their corrections) and emotion
  counts aggregated in the database for dashboards and exports;
- `decisions`: the counts the decisions are drawn from: each ad's units, its timeline, a
  viewer attribute's segments, the team's other ads for the norms.

What is drawn from them (the verdict, key moments, segments, norms) is
`analytics.comparisons`; a campaign's figures in one object, for its page, the API and the
exports, `analytics.results`.
"""
