from django.contrib import admin

from campaigns.models import Ad, Campaign, Face, Membership, ReactionImage, Team, UploadBatch
from campaigns.selectors import scoped_to_user


class TeamScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers see only their own teams' rows, as in the app."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return scoped_to_user(queryset, user=request.user)


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
    list_filter = ("team",)
    search_fields = ("name", "brand")


@admin.register(Ad)
class AdAdmin(TeamScopedAdmin):
    list_display = ("name", "campaign", "created_at")
    list_select_related = ("campaign",)
    search_fields = ("name", "campaign__name")


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
    list_filter = ("status",)
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
    list_filter = ("status",)
    list_select_related = ("batch",)
    search_fields = ("original_name", "sha256")
    readonly_fields = ("status", "error", "processed_at", "sha256", "created_at")
    raw_id_fields = ("batch",)


@admin.register(Face)
class FaceAdmin(TeamScopedAdmin):
    list_display = ("id", "image", "label", "detector_score", "model_version", "created_at")
    list_filter = ("label", "model_version")
    list_select_related = ("image", "model_version")
    raw_id_fields = ("image",)
