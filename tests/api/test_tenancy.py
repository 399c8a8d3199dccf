"""Tenancy of every endpoint: a token reaches its own team's data only. Another team's
object is a 404 for every method (and stays as it was), lists never hold another team's
rows, and a missing or revoked token is a 401 everywhere."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from api.services import api_token_revoke
from campaigns.models import Ad, Campaign, UploadBatch
from tests.api.conftest import ApiWorld, TeamWorld, TokenClient
from tests.ingest_support import plain_photo, zip_build

pytestmark = pytest.mark.django_db


def _object_requests(world: TeamWorld) -> list[tuple[str, str, dict[str, object]]]:
    """(method, url, body) of every object operation, aimed at `world`'s objects."""
    campaign = world.campaign.pk
    ad = world.ads["Spot A"].pk
    batch = world.batches["Spot A"].pk
    archive = {"archive": SimpleUploadedFile("r.zip", zip_build({"a.png": plain_photo(1)}))}
    files = {"files": [SimpleUploadedFile("a.png", plain_photo(2))]}
    return [
        ("get", f"/api/v1/campaigns/{campaign}/", {}),
        ("put", f"/api/v1/campaigns/{campaign}/", {"json": {"name": "Taken over"}}),
        ("patch", f"/api/v1/campaigns/{campaign}/", {"json": {"name": "Taken over"}}),
        ("delete", f"/api/v1/campaigns/{campaign}/", {}),
        ("get", f"/api/v1/campaigns/{campaign}/ads/", {}),
        ("post", f"/api/v1/campaigns/{campaign}/ads/", {"json": {"name": "Planted"}}),
        ("get", f"/api/v1/campaigns/{campaign}/results/", {}),
        ("get", f"/api/v1/campaigns/{campaign}/faces/", {}),
        ("get", f"/api/v1/campaigns/{campaign}/export/", {}),
        ("get", f"/api/v1/ads/{ad}/", {}),
        ("put", f"/api/v1/ads/{ad}/", {"json": {"name": "Taken over"}}),
        ("patch", f"/api/v1/ads/{ad}/", {"json": {"name": "Taken over"}}),
        ("delete", f"/api/v1/ads/{ad}/", {}),
        ("get", f"/api/v1/ads/{ad}/uploads/", {}),
        ("post", f"/api/v1/ads/{ad}/uploads/", {"multipart": archive}),
        ("post", f"/api/v1/ads/{ad}/uploads/files/", {"multipart": files}),
        ("get", f"/api/v1/ads/{ad}/faces/", {}),
        ("get", f"/api/v1/ads/{ad}/export/", {}),
        ("get", f"/api/v1/batches/{batch}/", {}),
        ("delete", f"/api/v1/batches/{batch}/", {}),
    ]


_LISTS = ("/api/v1/teams/", "/api/v1/campaigns/", "/api/v1/model-versions/")
_OPEN = {("get", "/api/v1/model-versions/{id}/")}  # model versions are no team's data


def _call(client: Client, method: str, url: str, body: dict[str, object]):
    if "json" in body:
        return getattr(client, method)(
            url, json.dumps(body["json"]), content_type="application/json"
        )
    if "multipart" in body:
        return client.post(url, body["multipart"])
    return getattr(client, method)(url)


def _state(world: TeamWorld) -> tuple[object, ...]:
    return (
        list(Campaign.objects.filter(team=world.team).values_list("pk", "name")),
        list(Ad.objects.filter(campaign__team=world.team).values_list("pk", "name")),
        list(UploadBatch.objects.filter(ad__campaign__team=world.team).values_list("pk", "status")),
    )


def test_the_cases_cover_every_operation_of_the_schema(world: ApiWorld, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = {
        (method, path)
        for path, methods in schema["paths"].items()
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    }
    covered = set(_OPEN)
    ids = {str(world.theirs.campaign.pk), str(world.theirs.ads["Spot A"].pk)}
    ids |= {str(world.theirs.batches["Spot A"].pk)}
    for method, url, _ in _object_requests(world.theirs):
        parts = ["{id}" if part in ids else part for part in url.split("/")]
        covered.add((method, "/".join(parts)))
    covered |= {("get", url) for url in _LISTS} | {("post", "/api/v1/campaigns/")}
    assert operations == covered


def test_another_teams_objects_are_404_for_every_method_and_stay_as_they_were(world: ApiWorld):
    api = TokenClient(world.ours.secret)
    before = _state(world.theirs)
    for method, url, body in _object_requests(world.theirs):
        response = _call(api, method, url, body)
        assert response.status_code == 404, (method, url, response.content[:200])
        assert response["Content-Type"] == "application/json", (method, url)
        assert "detail" in response.json()
    assert _state(world.theirs) == before
    # while the same requests on its own objects succeed
    for method, url, body in _object_requests(world.ours):
        if method == "delete":
            continue
        response = _call(api, method, url, body)
        assert response.status_code in (200, 201), (method, url, response.content[:300])


def test_lists_hold_only_the_tokens_team(world: ApiWorld):
    api = TokenClient(world.ours.secret)
    assert [t["id"] for t in api.get("/api/v1/teams/").json()["results"]] == [world.ours.team.pk]
    campaigns = [c["id"] for c in api.get("/api/v1/campaigns/").json()["results"]]
    assert campaigns == [world.ours.campaign.pk]
    ours = world.ours.campaign.pk
    ads = {a["id"] for a in api.get(f"/api/v1/campaigns/{ours}/ads/").json()["results"]}
    assert ads == {ad.pk for ad in world.ours.ads.values()}
    faces = api.get(f"/api/v1/campaigns/{ours}/faces/?page_size=1000").json()["results"]
    assert {face["ad"] for face in faces} == ads
    results = api.get(f"/api/v1/campaigns/{ours}/results/").json()
    assert {s["ad"] for s in results["verdict"]["standings"]} == ads
    # the other team sees its own, never ours
    theirs = TokenClient(world.theirs.secret)
    assert [c["id"] for c in theirs.get("/api/v1/campaigns/").json()["results"]] == [
        world.theirs.campaign.pk
    ]


def test_no_token_or_a_revoked_one_is_401_on_every_endpoint(world: ApiWorld):
    requests: list[tuple[str, str, dict[str, object]]] = [("get", url, {}) for url in _LISTS]
    requests.append(("post", "/api/v1/campaigns/", {"json": {"name": "x"}}))
    requests += _object_requests(world.ours)
    requests.append(("get", f"/api/v1/model-versions/{world.model.pk}/", {}))
    before = _state(world.ours)
    api_token_revoke(token=world.ours.token)
    for client in (Client(), TokenClient(world.ours.secret)):
        for method, url, body in requests:
            response = _call(client, method, url, body)
            assert response.status_code == 401, (method, url)
            assert response["WWW-Authenticate"].startswith("Bearer")
            assert response.json()["detail"]
    assert _state(world.ours) == before
