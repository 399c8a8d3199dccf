import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import BatchStatus, ImageStatus
from inference.services import model_version_activate
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


@pytest.mark.parametrize("target", ["ad", "campaign"])
def test_reprocess_action_queues_the_uploads_with_the_chosen_version(client, target):
    # given a finished batch analysed by the active version, and a newer version
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    old = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    new = factories.model_version_create(version="2.0")
    ad = factories.ad_create(campaign=factories.campaign_create(team=factories.team_create()))
    batch = factories.batch_create(ad=ad, status=BatchStatus.DONE)
    image = factories.image_create(batch=batch, status=ImageStatus.DONE)
    factories.face_create(image=image, model_version=old)
    selected = ad.pk if target == "ad" else ad.campaign_id
    url = reverse(f"admin:campaigns_{target}_changelist")
    # when the action is chosen: an intermediate page asks for the version, the active one first
    page = client.post(url, {"action": "reprocess", "_selected_action": [selected]})
    assert "Reprocess with a model version" in page.content.decode()
    assert page.context["form"].initial["model_version"] == old
    # and applied with the newer version
    client.post(
        url,
        {
            "action": "reprocess",
            "_selected_action": [selected],
            "apply": "1",
            "model_version": new.pk,
        },
    )
    # then its batch is back in processing with the new version, its photo pending again
    batch.refresh_from_db()
    image.refresh_from_db()
    assert batch.status == BatchStatus.PROCESSING and batch.model_version == new
    assert image.status == ImageStatus.PENDING
