"""Admin of campaigns' data: for platform operators (superusers) only.

Team members manage their own campaigns in the app, where every query is scoped to their
teams; the admin sees every team's data, so a staff account that is not a superuser gets no
access to any of these models (no list, form, filter, autocomplete or action). Uploads,
photos and faces are read-only here: their statuses and counters change only through the
services (campaigns/services). Reprocessing a campaign or an ad with a chosen model version
lives here, not on the model-version admin: it is the ingest workflow.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.models import Ad, Campaign, Face, Membership, ReactionImage, Team, UploadBatch
from campaigns.services.reprocess import ads_reprocess
from campaigns.services.teams import ad_fields_check
from inference.models import ModelVersion
from inference.selectors import model_version_active


def _is_operator(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


class OperatorAdmin(admin.ModelAdmin):
    """Every permission is the superuser's alone, whatever Django permissions a staff
    member was given: these rows belong to every team."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_operator(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_operator(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operator(request)


class ReadOnlyOperatorAdmin(OperatorAdmin):
    """Browsing only: these rows are written by the ingest services, never by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReprocessForm(forms.Form):
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.all(),
        label="Model version",
        help_text="The version to analyse the photos with (the active one unless you choose).",
    )


def _reprocess(
    modeladmin: admin.ModelAdmin,
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
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return render(request, "admin/campaigns/reprocess.html", context)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(OperatorAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = [MembershipInline]


@admin.register(Campaign)
class CampaignAdmin(OperatorAdmin):
    list_display = ("name", "brand", "team", "starts_on", "ends_on", "created_at")
    list_filter = ("team", "starts_on", "created_at")
    search_fields = ("name", "brand")
    actions = ["reprocess"]

    @admin.action(description="Reprocess every ad with a model version…", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        return _reprocess(self, request, queryset, Ad.objects.filter(campaign__in=queryset))


class AdAdminForm(forms.ModelForm):
    """The app's checks of an ad's length and creative, on the admin's form too."""

    class Meta:
        model = Ad
        fields = ["campaign", "name", "creative", "creative_url", "duration_seconds"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        creative = cleaned.get("creative")
        try:
            ad_fields_check(
                duration_seconds=cleaned.get("duration_seconds"),
                creative=creative if isinstance(creative, UploadedFile) else None,
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


@admin.register(Ad)
class AdAdmin(OperatorAdmin):
    form = AdAdminForm
    list_display = ("name", "campaign", "created_at")
    list_select_related = ("campaign",)
    search_fields = ("name", "campaign__name")
    list_filter = ("campaign__team", "created_at")
    actions = ["reprocess"]
    # A creative URL typed without a scheme is https (as on the app's ad form).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.action(description="Reprocess with a model version…", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Ad]) -> HttpResponse | None:
        return _reprocess(self, request, queryset, queryset)


@admin.register(UploadBatch)
class UploadBatchAdmin(ReadOnlyOperatorAdmin):
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


@admin.register(ReactionImage)
class ReactionImageAdmin(ReadOnlyOperatorAdmin):
    list_display = ("original_name", "batch", "status", "width", "height", "processed_at")
    list_filter = ("status", "batch__ad__campaign__team", "created_at")
    list_select_related = ("batch",)
    search_fields = ("original_name", "sha256")


@admin.register(Face)
class FaceAdmin(ReadOnlyOperatorAdmin):
    """Classifier output: viewable and filterable, never edited by hand."""

    list_display = ("id", "image", "label", "detector_score", "model_version", "created_at")
    list_filter = ("label", "model_version", "image__batch__ad__campaign__team", "created_at")
    list_select_related = ("image", "model_version")
    search_fields = ("image__original_name", "image__batch__ad__name")
    # Millions of rows: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False


# Accounts hold every team's members: operators' business too, like the teams themselves.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class OperatorUserAdmin(OperatorAdmin, UserAdmin):
    pass


@admin.register(Group)
class OperatorGroupAdmin(OperatorAdmin, GroupAdmin):
    pass
