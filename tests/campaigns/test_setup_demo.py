import pytest
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import Ad, Campaign, Membership


@pytest.mark.django_db
def test_setup_demo_creates_a_working_login_and_is_idempotent(client, capsys):
    # given an empty database
    # when setup_demo runs twice
    call_command("setup_demo")
    call_command("setup_demo")
    # then the printed credentials log in, and there is one team, campaign and ad
    out = capsys.readouterr().out
    assert "username 'demo' password 'demo-password'" in out
    response = client.post(
        reverse("login"), {"username": "demo", "password": "demo-password"}, follow=True
    )
    assert response.context["user"].username == "demo"
    membership = Membership.objects.get(user__username="demo")
    assert membership.role == "admin"
    assert Campaign.objects.filter(team=membership.team).count() == 1
    assert Ad.objects.filter(campaign__team=membership.team).count() == 1
