from django.contrib import admin, messages

from campaigns.models import Ad, Campaign, Face, Membership, ReactionImage, Team, UploadBatch
from campaigns.selectors import scoped_to_user


class TeamScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers see only their own teams' rows, as in the app."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return scoped_to_user(queryset, user=request.user)


def _reprocess_ads(modeladmin: admin.ModelAdmin, request, ads) -> None:
    """Queue every finished upload of `ads` for analysis with the active model version."""
    from campaigns.ingest import ads_reprocess
    from inference.models import ModelVersion

    model_version = ModelVersion.objects.filter(is_active=True).first()
    if model_version is None:
        modeladmin.message_user(request, "No model version is active.", messages.ERROR)
        return
    queued, problems = ads_reprocess(ads=ads, model_version=model_version)
    modeladmin.message_user(
        request,
        f"{len(queued)} upload(s) queued for analysis with {model_version}. " + " ".join(problems),
        messages.SUCCESS if queued else messages.WARNING,
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(TeamScopedAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = [MembershipInline]


@admin.register(Campaign)
class CampaignAdmin(TeamScopedAdmin):
    list_display = ("name", "brand", "team", "starts_on", "ends_on", "created_at")
    list_filter = ("team", "starts_on", "created_at")
    search_fields = ("name", "brand")
    actions = ["reprocess"]

    @admin.action(description="Reprocess every ad with the active model version")
    def reprocess(self, request, queryset) -> None:
        _reprocess_ads(self, request, Ad.objects.filter(campaign__in=queryset))


@admin.register(Ad)
class AdAdmin(TeamScopedAdmin):
    list_display = ("name", "campaign", "created_at")
    list_select_related = ("campaign",)
    search_fields = ("name", "campaign__name")
    list_filter = ("campaign__team", "created_at")
    actions = ["reprocess"]

    @admin.action(description="Reprocess with the active model version")
    def reprocess(self, request, queryset) -> None:
        _reprocess_ads(self, request, queryset)


@admin.register(UploadBatch)
class UploadBatchAdmin(TeamScopedAdmin):
    list_display = (
        "source_name",
        "ad",
        "status",
        "images_total",
        "images_processed",
        "images_failed",
        "images_skipped",
        "faces_found",
        "created_at",
    )
    list_filter = ("status", "ad__campaign__team", "created_at")
    list_select_related = ("ad",)
    search_fields = ("source_name", "ad__name")
    # Status and counters change only through services (see campaigns.services).
    readonly_fields = (
        "status",
        "images_total",
        "images_processed",
        "images_failed",
        "images_skipped",
        "faces_found",
        "error",
        "started_at",
        "finished_at",
        "created_at",
    )


@admin.register(ReactionImage)
class ReactionImageAdmin(TeamScopedAdmin):
    list_display = ("original_name", "batch", "status", "width", "height", "processed_at")
    list_filter = ("status", "batch__ad__campaign__team", "created_at")
    list_select_related = ("batch",)
    search_fields = ("original_name", "sha256")
    readonly_fields = ("status", "error", "processed_at", "sha256", "created_at")
    raw_id_fields = ("batch",)


@admin.register(Face)
class FaceAdmin(TeamScopedAdmin):
    """Classifier output: viewable and filterable, never edited by hand."""

    list_display = ("id", "image", "label", "detector_score", "model_version", "created_at")
    list_filter = ("label", "model_version", "image__batch__ad__campaign__team", "created_at")
    list_select_related = ("image", "model_version")
    search_fields = ("image__original_name", "image__batch__ad__name")
    raw_id_fields = ("image",)
    # Millions of rows: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
