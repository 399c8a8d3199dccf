"""Share links for platform operators (superusers): browse and revoke; the team creates them
in the app, where the token is shown once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns.admin import OperatorAdmin
from reports.models import ShareLink
from reports.services import share_link_revoke


@admin.register(ShareLink)
class ShareLinkAdmin(OperatorAdmin):
    list_display = (
        "__str__",
        "campaign",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "allow_report",
        "show_photos",
    )
    list_filter = ("allow_report", "show_photos")
    search_fields = ("label", "prefix", "campaign__name")
    actions = ["revoke"]
    readonly_fields = [f.name for f in ShareLink._meta.get_fields() if f.concrete]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke the selected share links")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        for link in queryset:
            share_link_revoke(link=link)
