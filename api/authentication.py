"""`Authorization: Bearer <token>`: the request acts as the token's user, on its team only."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from api.models import ApiToken
from api.selectors import api_token_for_secret
from api.services import api_token_used

KEYWORD = "Bearer"


class BearerTokenAuthentication(BaseAuthentication):
    """A token created on the API tokens page or with `manage.py api_token create`.

    `request.auth` is the ApiToken; views narrow every query to its team."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != KEYWORD.lower().encode():
            return None
        if len(words) != 2:
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        try:
            secret = words[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token.") from None
        token = api_token_for_secret(secret=secret)
        if token is None:
            raise AuthenticationFailed(
                "Invalid or revoked token (or its user is no longer in its team)."
            )
        api_token_used(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token of one user and team (created on the API tokens "
            "page or with `manage.py api_token create`).",
        }
