"""The admin is for platform operators: a staff member who is not a superuser reaches no
team's data there, whatever Django permissions they hold.

The probe of 2026-12-01 found a staff member of team B creating ads in team A's campaign,
moving campaigns between teams and reading A's names in dropdowns and filters. Here such a
member holds every permission the project defines and tries every admin page, form, filter,
autocomplete and action against team A's rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from campaigns.models import Ad, Campaign, Face, Membership, ReactionImage, Team, UploadBatch
from inference.services import model_version_activate
from tests import factories

pytestmark = pytest.mark.django_db

# (admin URL name prefix, model) of every admin that shows team data.
TEAM_ADMINS: list[tuple[str, type[Any]]] = [
    ("campaigns_team", Team),
    ("campaigns_campaign", Campaign),
    ("campaigns_ad", Ad),
    ("campaigns_uploadbatch", UploadBatch),
    ("campaigns_reactionimage", ReactionImage),
    ("campaigns_face", Face),
    ("auth_user", User),
    ("auth_group", Group),
]


@pytest.fixture
def team_a() -> dict[type[Any], Any]:
    """Team A's rows, each named so that a leak shows in a page's text."""
    team = factories.team_create(name="Alpha Secret Team")
    member = factories.user_create(username="alpha-secret-user", team=team)
    campaign = factories.campaign_create(team=team, name="Alpha Secret Launch")
    ad = factories.ad_create(campaign=campaign, name="Alpha Secret Ad")
    batch = factories.batch_create(ad=ad, status=UploadBatch.Status.DONE)
    image = factories.image_create(batch=batch, status=ReactionImage.Status.DONE)
    model_version = model_version_activate(model_version=factories.model_version_create())
    face = factories.face_create(image=image, model_version=model_version)
    group = Group.objects.create(name="Alpha Secret Group")
    return {
        Team: team,
        User: member,
        Campaign: campaign,
        Ad: ad,
        UploadBatch: batch,
        ReactionImage: image,
        Face: face,
        Group: group,
    }


@pytest.fixture
def staff_b(client: Client) -> Client:
    """A staff member of team B holding every permission of every model, not a superuser."""
    user = factories.user_create(username="bravo-staff", team=factories.team_create(name="B"))
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.all())
    client.force_login(user)
    return client


def _snapshot() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Team, Membership, Campaign, Ad, UploadBatch, ReactionImage, Face, Group)
    }


def _assert_no_leak(response: Any, team_a: dict[type[Any], Any]) -> None:
    text = response.content.decode(errors="replace")
    assert "Alpha Secret" not in text and "alpha-secret" not in text, response.request["PATH_INFO"]


@pytest.mark.parametrize(("prefix", "model"), TEAM_ADMINS)
def test_no_admin_page_of_team_data_opens_for_a_non_superuser(staff_b, team_a, prefix, model):
    # given team A's rows and a staff member of team B with every permission
    target = team_a[model]
    before = _snapshot()
    pages = [
        reverse(f"admin:{prefix}_changelist"),
        reverse(f"admin:{prefix}_changelist") + "?q=Alpha",
        reverse(f"admin:{prefix}_add"),
        reverse(f"admin:{prefix}_change", args=[target.pk]),
        reverse(f"admin:{prefix}_delete", args=[target.pk]),
        reverse(f"admin:{prefix}_history", args=[target.pk]),
    ]
    # when they open every page of its admin
    for url in pages:
        response = staff_b.get(url)
        # then each is refused and shows none of team A's names
        assert response.status_code == 403, (url, response.status_code)
        _assert_no_leak(response, team_a)
    # and no form post changes anything: add, change, delete, bulk delete
    posts = [
        (reverse(f"admin:{prefix}_add"), {"name": "Injected", "campaign": team_a[Campaign].pk}),
        (reverse(f"admin:{prefix}_change", args=[target.pk]), {"name": "Renamed"}),
        (reverse(f"admin:{prefix}_delete", args=[target.pk]), {"post": "yes"}),
        (
            reverse(f"admin:{prefix}_changelist"),
            {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
        ),
    ]
    for url, data in posts:
        response = staff_b.post(url, data)
        assert response.status_code == 403, (url, response.status_code)
    assert _snapshot() == before


def test_list_filters_by_another_team_show_nothing(staff_b, team_a):
    # the list filters the probe read team A's names from
    for prefix, query in [
        ("campaigns_campaign", f"team__id__exact={team_a[Team].pk}"),
        ("campaigns_ad", f"campaign__team__id__exact={team_a[Team].pk}"),
        ("campaigns_uploadbatch", f"ad__campaign__team__id__exact={team_a[Team].pk}"),
        ("campaigns_face", f"image__batch__ad__campaign__team__id__exact={team_a[Team].pk}"),
    ]:
        response = staff_b.get(reverse(f"admin:{prefix}_changelist") + "?" + query)
        assert response.status_code == 403
        _assert_no_leak(response, team_a)


@pytest.mark.parametrize(
    ("model_name", "field_name"),
    [("membership", "user"), ("membership", "team"), ("campaign", "team"), ("ad", "campaign")],
)
def test_autocomplete_of_team_data_is_refused(staff_b, team_a, model_name, field_name):
    response = staff_b.get(
        reverse("admin:autocomplete"),
        {"app_label": "campaigns", "model_name": model_name, "field_name": field_name, "term": ""},
    )
    assert response.status_code in (403, 404)
    _assert_no_leak(response, team_a)


@pytest.mark.parametrize("prefix", ["campaigns_campaign", "campaigns_ad"])
def test_the_reprocess_action_is_refused(staff_b, team_a, prefix):
    # given team A's finished batch
    target = team_a[Campaign] if prefix == "campaigns_campaign" else team_a[Ad]
    other = factories.model_version_create()
    # when the staff member of team B runs the reprocess action on it with another version
    response = staff_b.post(
        reverse(f"admin:{prefix}_changelist"),
        {
            "action": "reprocess",
            "_selected_action": [target.pk],
            "apply": "1",
            "model_version": other.pk,
        },
    )
    # then it is refused and the batch is untouched
    assert response.status_code == 403
    batch = UploadBatch.objects.get(pk=team_a[UploadBatch].pk)
    assert batch.status == UploadBatch.Status.DONE and batch.model_version_id is None


def test_the_admin_index_lists_no_team_model_for_a_non_superuser(staff_b, team_a):
    response = staff_b.get(reverse("admin:index"))
    text = response.content.decode()
    for prefix, _ in TEAM_ADMINS:
        assert reverse(f"admin:{prefix}_changelist") not in text
    # model versions are not team data: staff may be given permissions on them
    assert reverse("admin:inference_modelversion_changelist") in text


def test_a_superuser_still_manages_every_team(client, team_a):
    client.force_login(User.objects.create_superuser("root", password="x"))
    for prefix, model in TEAM_ADMINS:
        assert client.get(reverse(f"admin:{prefix}_changelist")).status_code == 200
        change = client.get(reverse(f"admin:{prefix}_change", args=[team_a[model].pk]))
        assert change.status_code == 200, prefix
