from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analytics"

    def ready(self) -> None:
        """Keep the tallies in step with campaigns' face writes and rebuild the timeline
        rollups after its commits (campaigns/hooks.py: campaigns imports nothing of this app)."""
        from analytics import tasks
        from analytics.services import tallies
        from campaigns import hooks

        hooks.faces_replacing_hook_add(tallies.tallies_tracking)
        hooks.ads_changed_hook_add(tasks.timeline_rollups_enqueue)
