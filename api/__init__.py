"""The REST API for integrations (survey and panel tools, BI): tokens per user and team,
and endpoints over the same services and selectors as the app's pages."""
