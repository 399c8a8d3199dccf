"""Every read the views, tasks and exports make, split by what they read.

- `scoping`: rows a user may reach (their teams' campaigns, ads, batches, photos); another
  team's row is a 404;
- `batches`: an upload's counts, progress and problem members;
- `dashboards`: emotion counts aggregated in the database for dashboards and exports.
"""
