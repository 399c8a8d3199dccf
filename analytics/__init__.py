"""The analysis of the faces: tallies and rollups, statistics, timelines, decisions,
dashboards, charts and exports."""
