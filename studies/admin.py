"""Studies and their sessions for operators: superusers only, like campaigns' rows (every
team's rows are here); sessions are read-only (the capture services write them)."""

from django.contrib import admin
from django.db import models

from campaigns.admin import OperatorAdmin, ReadOnlyOperatorAdmin
from studies.models import CaptureSession, Study, StudyAd


class StudyAdInline(admin.TabularInline):
    model = StudyAd
    extra = 0


@admin.register(Study)
class StudyAdmin(OperatorAdmin):
    list_display = ["name", "campaign", "status", "ad_order", "quota", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["slug", "consent_version"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [StudyAdInline]


@admin.register(CaptureSession)
class CaptureSessionAdmin(ReadOnlyOperatorAdmin):
    list_display = ["pk", "study", "participant_id", "status", "low_quality", "created_at"]
    list_filter = ["status", "low_quality"]
