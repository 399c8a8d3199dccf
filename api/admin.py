"""API tokens in the admin, for operators (superusers): who holds which, and revoking them.
Never the secret (only its hash is stored); tokens are created on the API tokens page or
with `manage.py api_token create`, not here."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from api.models import ApiToken
from api.services import api_token_revoke
from campaigns.admin import ReadOnlyOperatorAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyOperatorAdmin):
    list_display = ["name", "prefix", "user", "team", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team"]
    search_fields = ["name", "prefix", "user__username"]
    fields = ("name", "prefix", "user", "team", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("name", "prefix", "user", "team", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset)
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, f"{len(tokens)} token(s) revoked.")
