"""Admin of campaigns' data. Reprocessing a campaign or an ad with a chosen model version
lives here (not on the model-version admin): it is campaigns' workflow."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.models import Ad, Campaign, Face, Membership, ReactionImage, Team, UploadBatch
from campaigns.selectors.scoping import scoped_to_user
from campaigns.services.reprocess import ads_reprocess
from inference.models import ModelVersion
from inference.selectors import model_version_active


class TeamScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers see only their own teams' rows, as in the app."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return scoped_to_user(queryset, user=request.user)


class ReprocessForm(forms.Form):
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.all(),
        label="Model version",
        help_text="The version to analyse the photos with (the active one unless you choose).",
    )


def _reprocess(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    targets: QuerySet[Any],
    ads: QuerySet[Ad],
) -> HttpResponse | None:
    """Ask for a model version, then queue every finished upload of `ads` for analysis."""
    form = ReprocessForm(
        request.POST if "apply" in request.POST else None,
        initial={"model_version": model_version_active()},
    )
    if form.is_bound and form.is_valid():
        model_version = form.cleaned_data["model_version"]
        queued, problems = ads_reprocess(ads=list(ads), model_version=model_version)
        modeladmin.message_user(
            request,
            f"{len(queued)} upload(s) queued for analysis with {model_version}."
            + (" " + " ".join(problems) if problems else ""),
            messages.SUCCESS if queued else messages.WARNING,
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Reprocess with a model version",
        "form": form,
        "targets": list(targets),
        "action": "reprocess",
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return render(request, "admin/campaigns/reprocess.html", context)


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

    @admin.action(description="Reprocess every ad with a model version…")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        return _reprocess(self, request, queryset, Ad.objects.filter(campaign__in=queryset))


@admin.register(Ad)
class AdAdmin(TeamScopedAdmin):
    list_display = ("name", "campaign", "created_at")
    list_select_related = ("campaign",)
    search_fields = ("name", "campaign__name")
    list_filter = ("campaign__team", "created_at")
    actions = ["reprocess"]

    @admin.action(description="Reprocess with a model version…")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Ad]) -> HttpResponse | None:
        return _reprocess(self, request, queryset, queryset)


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
