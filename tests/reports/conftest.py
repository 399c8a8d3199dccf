"""A campaign to report on and share: two ads with viewers, segments, a key moment and a
video creative, read by a model version with a measurement (corrected shares)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from django.core.files.base import ContentFile

from campaigns.models import Ad, BatchStatus, Campaign, UploadBatch
from inference.models import ModelVersion
from inference.scenes import video_bytes
from inference.services import model_version_activate
from tests import factories
from tests.analytics.dashboard_data import viewer_create, viewer_reaction

VIEWERS = 12
SECONDS = 10


@dataclass
class Reported:
    user: object
    campaign: Campaign
    other_campaign: Campaign
    foreign_campaign: Campaign
    ads: dict[str, Ad]
    model: ModelVersion


def _frames(turns_sad: bool) -> list[tuple[float, str]]:
    """A viewer's frames, two a second: happy, or happy then sad from 5 s on."""
    return [
        (t / 2, "sad" if turns_sad and t / 2 >= SECONDS / 2 else "happy")
        for t in range(2 * SECONDS)
    ]


def _creative() -> bytes:
    """A 10 s video whose frames turn from dark to bright."""
    return video_bytes(
        lambda t: np.full((96, 128, 3), int(t * 25) % 256, dtype=np.uint8), seconds=SECONDS, fps=5
    )


@pytest.fixture
def reported(db) -> Reported:
    """Campaign Launch: "Spot A" (12 viewers, happy throughout) and "=Spot B <&>" (6 DE
    viewers turn sad at 5 s, 6 FR stay happy; a name a spreadsheet would run as a formula
    and markup would swallow) with a video creative; another campaign of the same team and
    one of another team."""
    team = factories.team_create()
    user = factories.user_create(team=team)
    model = factories.model_version_create(version="7.0")
    ModelVersion.objects.filter(pk=model.pk).update(measurement=factories.measurement_create())
    model.refresh_from_db()
    model_version_activate(model_version=model)
    campaign = factories.campaign_create(team=team, name="Launch")
    ads = {}
    for key, name in (("a", "Spot A"), ("b", "=Spot B <&>")):
        ad = ads[key] = factories.ad_create(campaign=campaign, name=name)
        batch = factories.batch_create(ad=ad, status=BatchStatus.DONE)
        UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
        for i in range(VIEWERS):
            market = "DE" if i % 2 else "FR"
            viewer = viewer_create(campaign=campaign, external_id=f"{key}{i}", market=market)
            frames = _frames(turns_sad=key == "b" and market == "DE")
            viewer_reaction(batch=batch, model_version=model, viewer=viewer, labels_at=frames)
    ads["b"].creative.save("spot-b.mp4", ContentFile(_creative()))
    other = factories.campaign_create(team=team, name="Other")
    factories.ad_create(campaign=other, name="Other spot")
    foreign_team = factories.team_create()
    foreign = factories.campaign_create(team=foreign_team, name="Foreign")
    factories.ad_create(campaign=foreign, name="Foreign spot")
    return Reported(user, campaign, other, foreign, ads, model)
