"""`manage.py api_token create --user U --team T [--name N]` (the secret alone on the last
line), `api_token list [--user U]`, `api_token revoke PREFIX_OR_ID`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import services
from api.models import ApiToken
from campaigns.models import Team


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (each of one user, for one team's data)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a token and print its secret once")
        create.add_argument("--user", required=True, help="username")
        create.add_argument("--team", required=True, help="team name (the user must be in it)")
        create.add_argument("--name", default="", help="what uses it (default: cli)")
        listing = actions.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--user", default="", help="only this user's tokens")
        revoke = actions.add_parser("revoke", help="revoke a token")
        revoke.add_argument("token", help="the token's id or the first characters it shows")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        try:
            user = User.objects.get(username=options["user"])
        except User.DoesNotExist:
            raise CommandError(f"No user named {options['user']!r}.") from None
        try:
            team = Team.objects.get(name=options["team"])
        except Team.DoesNotExist:
            raise CommandError(f"No team named {options['team']!r}.") from None
        try:
            token, secret = services.api_token_create(
                user=user, team=team, name=options["name"] or "cli"
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Token {token.pk} ({token.name}) of {user.get_username()} for team {team.name}. "
            "Its secret follows; it is shown this once:"
        )
        self.stdout.write(secret)

    def _list(self, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.select_related("user", "team").order_by("pk")
        if options["user"]:
            tokens = tokens.filter(user__username=options["user"])
        for token in tokens:
            state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.pk}\t{token.prefix}…\t{token.name}\t{token.user.get_username()}\t"
                f"{token.team.name}\tlast used {used}\t{state}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        given = options["token"].rstrip("…")
        tokens = (
            ApiToken.objects.filter(pk=int(given))
            if given.isdigit()
            else ApiToken.objects.filter(prefix=given)
        )
        found = list(tokens[:2])
        if len(found) != 1:
            raise CommandError(
                f"No token {given!r}."
                if not found
                else f"{given!r} names several tokens; use its id."
            )
        token = services.api_token_revoke(token=found[0])
        self.stdout.write(f"Token {token.pk} ({token.name}) revoked.")
