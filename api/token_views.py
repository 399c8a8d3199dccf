"""The API tokens page: a user's tokens, a new one (its secret shown once), revoking one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api import selectors, services
from api.forms import ApiTokenForm
from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors import scoping


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: the user's tokens and the form; POST: create one and show its secret, this once
    (the answer is not cached and the secret is never stored)."""
    teams = scoping.team_list(user=request.user)
    form = ApiTokenForm(request.POST or None, teams=teams)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = services.api_token_create(
                user=request.user, team=form.cleaned_data["team"], name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = ApiTokenForm(teams=teams)
    return render(
        request,
        "api/token_list.html",
        {
            "form": form,
            "tokens": selectors.api_token_list(user=request.user),
            "created": created,
            "secret": secret,
            "no_team": not teams.exists(),
        },
    )


@login_required
@require_POST
def token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    token = selectors.api_token_get(user=request.user, token_id=token_id)
    services.api_token_revoke(token=token)
    messages.success(request, f"Token {token.name} ({token.prefix}…) is revoked.")
    return redirect("api:tokens")
