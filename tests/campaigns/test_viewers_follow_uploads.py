"""A campaign's viewers and their attributes follow the uploads that show them: deleting the
last upload of a viewer deletes the viewer and its attributes, so the dashboard's filters
stop offering segments that no face is left in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics.selectors.decisions import attribute_values
from campaigns.models import UploadBatch, Viewer, ViewerAttribute
from campaigns.services import batches
from tests import factories
from tests.analytics.dashboard_data import batch_on, viewer_create, viewer_reaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return factories.campaign_create(team=factories.team_create())


def _upload(ad, model, viewers) -> UploadBatch:
    batch = batch_on(ad=ad)
    UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
    for viewer in viewers:
        viewer_reaction(batch=batch, model_version=model, viewer=viewer, labels_at=[(1, "happy")])
    return batch


def test_deleting_a_viewers_only_upload_deletes_the_viewer_and_its_attributes(client, campaign):
    # given two ads: one upload shows a DE viewer and a viewer both uploads show, the other a
    # FR viewer and that same shared viewer
    model = factories.model_version_create()
    first, second = (factories.ad_create(campaign=campaign) for _ in range(2))
    de = viewer_create(campaign=campaign, external_id="de", market="DE", age_band="25-34")
    fr = viewer_create(campaign=campaign, external_id="fr", market="FR")
    shared = viewer_create(campaign=campaign, external_id="both", market="UK")
    gone = _upload(first, model, [de, shared])
    _upload(second, model, [fr, shared])
    assert attribute_values(campaign=campaign) == {
        "age_band": ["25-34"],
        "market": ["DE", "FR", "UK"],
    }
    # when the first upload is deleted
    batches.batch_delete(batch=gone)
    # then its only viewer and that viewer's attributes are gone; the others stay
    assert set(Viewer.objects.values_list("external_id", flat=True)) == {"fr", "both"}
    assert not ViewerAttribute.objects.filter(viewer_id=de.pk).exists()
    assert attribute_values(campaign=campaign) == {"market": ["FR", "UK"]}
    # and the dashboard's filters no longer offer them
    client.force_login(factories.user_create(team=campaign.team))
    form = client.get(reverse("campaigns:campaign_dashboard", args=[campaign.pk])).context["form"]
    assert [name for name, _ in form.fields["breakdown"].choices] == ["", "market"]
    assert "market=DE" not in dict(form.fields["segment"].choices)


def test_deleting_a_campaigns_last_upload_leaves_no_attribute_to_filter_by(campaign):
    # given a campaign whose only upload brought viewers with attributes (the manifest's)
    model = factories.model_version_create()
    ad = factories.ad_create(campaign=campaign)
    only = _upload(
        ad,
        model,
        [viewer_create(campaign=campaign, external_id=f"v{n}", age_band="18-24") for n in range(3)],
    )
    # when that upload is deleted
    batches.batch_delete(batch=only)
    # then the campaign has no viewer and no attribute left
    assert not Viewer.objects.filter(campaign=campaign).exists()
    assert attribute_values(campaign=campaign) == {}
