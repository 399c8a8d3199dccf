"""Shared pieces of the studies tests: a study on an ad with a creative, frames, the
viewer's API as the page's script calls it."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from campaigns.models import Ad
from inference.models import ModelVersion
from studies.models import Study
from studies.services import studies
from tests import factories


def jpeg(seed: int = 0, *, size: tuple[int, int] = (64, 48), level: int | None = None) -> bytes:
    """A small distinct JPEG (uniform gray at `level`, else noise)."""
    rng = np.random.default_rng(seed)
    if level is None:
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    else:
        pixels = np.full((size[1], size[0], 3), level, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def ad_with_creative(*, campaign: Any, name: str = "Spot", data: bytes = b"not-decoded") -> Ad:
    ad = factories.ad_create(campaign=campaign, name=name)
    ad.creative.save(f"{name.lower()}.webm", ContentFile(data), save=True)
    return ad


def model_active() -> ModelVersion:
    model_version = factories.model_version_create()
    ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True)
    return model_version


def study_build(**fields: Any) -> Study:
    team = factories.team_create(name=fields.pop("team_name", None))
    campaign = factories.campaign_create(team=team)
    ads = [ad_with_creative(campaign=campaign, name=f"Spot {i}") for i in range(fields.pop("n", 1))]
    defaults: dict[str, Any] = {
        "name": "Wave 1",
        "kept_params": "age_band,market",
        "complete_url": "https://survey.example.com/done?pid={pid}&s=c",
        "declined_url": "https://survey.example.com/done?pid={pid}&s=d",
        "failed_url": "https://survey.example.com/done?pid={pid}&s=f",
    }
    return studies.study_create(campaign=campaign, ads=ads, **{**defaults, **fields})


class Viewer:
    """The page's script: the JSON API of one study, with the session's token once given."""

    def __init__(self, study: Study, client: Client | None = None) -> None:
        self.study = study
        self.client = client or Client()
        self.token = ""

    def url(self, name: str, **kwargs: Any) -> str:
        return reverse(f"studies:{name}", kwargs={"slug": self.study.slug, **kwargs})

    def post(self, name: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(
            self.url(name, **kwargs),
            data=json.dumps(body or {}),
            content_type="application/json",
            headers={"X-Capture-Token": self.token},
        )

    def start(self, **query: str) -> Any:
        response = self.post("capture_start", {"query": query})
        if response.status_code == 200:
            self.token = response.json()["token"]
        return response

    def frames(self, ad_id: int, frames: list[tuple[int, float, bytes]], luma: float = 120) -> Any:
        data: dict[str, Any] = {
            "meta": json.dumps([{"i": i, "t": t, "l": luma} for i, t, _ in frames])
        }
        for i, _, content in frames:
            data[f"f{i}"] = ContentFile(content, name=f"f{i}.jpg")
        return self.client.post(
            self.url("capture_frames", ad_id=ad_id),
            data=data,
            headers={"X-Capture-Token": self.token},
        )
