import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "campaigns_team",
    "campaigns_campaign",
    "campaigns_ad",
    "campaigns_uploadbatch",
    "campaigns_reactionimage",
    "campaigns_face",
    "inference_modelversion",
]


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_admin_changelists_render_for_a_superuser(client, changelist):
    # given data in every table and a superuser
    team = factories.team_create()
    image = factories.image_create(
        batch=factories.batch_create(
            ad=factories.ad_create(campaign=factories.campaign_create(team=team))
        )
    )
    factories.face_create(image=image, model_version=factories.model_version_create())
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    # when the changelist is opened
    response = client.get(reverse(f"admin:{changelist}_changelist"))
    # then it renders with one row
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_staff_member_sees_only_own_teams_campaigns_in_admin(client):
    # given campaigns of two teams and a staff member (not superuser) of team B
    team_a, team_b = factories.team_create(), factories.team_create()
    factories.campaign_create(team=team_a, name="A's launch")
    own = factories.campaign_create(team=team_b, name="B's launch")
    staff = factories.user_create(team=team_b)
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(staff)
    # when they open the campaign changelist
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    # then only their team's campaign is listed
    assert list(response.context["cl"].result_list) == [own]
