"""Data of the API tests: two teams with a token each, one campaign with faces of known
viewers, and a way to call the API as a token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.models import ApiToken
from api.services import api_token_create
from campaigns.models import Ad, BatchStatus, Campaign, Team, UploadBatch
from inference.models import ModelVersion
from inference.services import model_version_activate
from tests import factories
from tests.analytics.dashboard_data import viewer_create, viewer_reaction


@dataclass
class TeamWorld:
    team: Team
    user: User
    token: ApiToken
    secret: str
    campaign: Campaign
    ads: dict[str, Ad]
    batches: dict[str, UploadBatch]


@dataclass
class ApiWorld:
    ours: TeamWorld
    theirs: TeamWorld
    model: ModelVersion


class TokenClient(Client):
    """Django's test client sending a bearer token with every request (no session)."""

    def __init__(self, secret: str, **kwargs: Any) -> None:
        super().__init__(headers={"Authorization": f"Bearer {secret}"}, **kwargs)


def team_world(*, name: str, model: ModelVersion, viewers: int = 12) -> TeamWorld:
    """A team with a user, a token, and a campaign of two ads: Spot A's viewers happy for
    20 s, Spot B's happy for 10 s then sad; every viewer has a market (DE or FR)."""
    team = factories.team_create(name=name)
    user = factories.user_create(username=f"{name.lower()}-user", team=team)
    token, secret = api_token_create(user=user, team=team, name=f"{name} tool")
    campaign = factories.campaign_create(team=team, name=f"{name} launch")
    ads = {
        label: factories.ad_create(campaign=campaign, name=label) for label in ("Spot A", "Spot B")
    }
    batches = {}
    for label, ad in ads.items():
        batch = factories.batch_create(ad=ad, status=BatchStatus.DONE)
        UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
        batches[label] = batch
        for i in range(viewers):
            viewer = viewer_create(
                campaign=campaign,
                external_id=f"{label[-1]}{i}",
                market="DE" if i % 2 else "FR",
            )
            labels = [(t / 2, "happy" if label == "Spot A" or t < 20 else "sad") for t in range(40)]
            viewer_reaction(batch=batch, model_version=model, viewer=viewer, labels_at=labels)
    return TeamWorld(team, user, token, secret, campaign, ads, batches)


@pytest.fixture(autouse=True)
def rate_counts_apart(settings) -> None:
    """Request counts live in the cache (in Redis, beside the broker's queues and other runs'
    counts, when the broker is Redis): each test counts under a key prefix of its own, so
    every test starts at zero and nothing else is cleared."""
    settings.CACHES = {
        name: {**conf, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
        for name, conf in settings.CACHES.items()
    }


@pytest.fixture
def world(db) -> ApiWorld:
    model = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    return ApiWorld(
        ours=team_world(name="Ours", model=model),
        theirs=team_world(name="Theirs", model=model, viewers=3),
        model=model,
    )


@pytest.fixture
def api(world: ApiWorld) -> TokenClient:
    return TokenClient(world.ours.secret)
