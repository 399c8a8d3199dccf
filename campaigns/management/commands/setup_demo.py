"""Create (or refresh) a demo team, user, campaign and ad for local trials."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from campaigns.models import Ad, Campaign, Team, TeamRole
from campaigns.services.teams import ad_create, campaign_create, membership_add, team_create


class Command(BaseCommand):
    help = "Create a demo team with a demo user (a superuser, for the admin) and print the login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")
        parser.add_argument("--team", default="Demo team")

    @transaction.atomic
    def handle(self, *args, username: str, password: str, team: str, **options) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_superuser(username=username, password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        team_obj = Team.objects.filter(name=team).first() or team_create(name=team)
        membership_add(team=team_obj, user=user, role=TeamRole.ADMIN)
        campaign = Campaign.objects.filter(team=team_obj, name="Demo campaign").first()
        if campaign is None:
            campaign = campaign_create(
                team=team_obj,
                name="Demo campaign",
                brand="Demo brand",
                description="Created by `manage.py setup_demo`.",
                created_by=user,
            )
        if not Ad.objects.filter(campaign=campaign, name="Demo ad").exists():
            ad_create(campaign=campaign, name="Demo ad")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: username {username!r} password {password!r} "
                f"(team {team_obj.name!r}; also a superuser for /admin/)"
            )
        )
