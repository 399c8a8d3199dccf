"""The API's endpoints through HTTP: campaigns and ads, uploads and batches, faces, results,
exports, model versions; every error a JSON body with a plain sentence."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openapi_spec_validator import validate

from api.serializers import EstimateSerializer
from campaigns.models import Ad, BatchStatus, Campaign, ImageStatus, UploadBatch
from campaigns.services.transitions import status_change
from inference.services import model_version_activate
from tests import factories
from tests.api.conftest import ApiWorld, TokenClient
from tests.ingest_support import free_port, plain_photo, zip_build

pytestmark = pytest.mark.django_db


def _json(api: Client, method: str, url: str, body: object) -> Any:
    return getattr(api, method)(url, body, content_type="application/json")


# Campaigns and ads ---------------------------------------------------------------------------


def test_campaigns_and_ads_are_created_read_updated_and_deleted(world: ApiWorld, api):
    # create: the campaign goes to the token's team
    response = _json(api, "post", "/api/v1/campaigns/", {"name": "Autumn", "brand": "Fizz"})
    assert response.status_code == 201, response.json()
    campaign = response.json()
    assert campaign["team"] == world.ours.team.pk
    assert Campaign.objects.get(pk=campaign["id"]).created_by == world.ours.user
    # read
    assert api.get(campaign["urls"]["self"]).json()["brand"] == "Fizz"
    # update: PATCH changes what it sends, PUT replaces every field
    patched = _json(api, "patch", campaign["urls"]["self"], {"description": "TV and web"})
    assert patched.json()["brand"] == "Fizz" and patched.json()["description"] == "TV and web"
    put = _json(api, "put", campaign["urls"]["self"], {"name": "Autumn 2027"})
    assert put.json()["name"] == "Autumn 2027" and put.json()["brand"] == ""
    # ads
    ad = _json(api, "post", campaign["urls"]["ads"], {"name": "Spot", "duration_seconds": 30})
    assert ad.status_code == 201, ad.json()
    ad_url = ad.json()["urls"]["self"]
    assert (
        _json(api, "patch", ad_url, {"duration_seconds": 20.5}).json()["duration_seconds"] == 20.5
    )
    listed = api.get(campaign["urls"]["ads"]).json()["results"]
    assert [a["name"] for a in listed] == ["Spot"]
    # delete
    assert api.delete(ad_url).status_code == 204
    assert not Ad.objects.filter(pk=ad.json()["id"]).exists()
    assert api.delete(campaign["urls"]["self"]).status_code == 204
    assert api.get(campaign["urls"]["self"]).status_code == 404


def test_service_refusals_are_400_or_409_with_the_services_words(world: ApiWorld, api):
    taken = _json(api, "post", "/api/v1/campaigns/", {"name": world.ours.campaign.name})
    assert taken.status_code == 409
    assert (
        taken.json()["detail"]
        == f"Team Ours already has a campaign named '{world.ours.campaign.name}'."
    )
    backwards = _json(
        api,
        "post",
        "/api/v1/campaigns/",
        {"name": "B", "starts_on": "2027-02-01", "ends_on": "2027-01-01"},
    )
    assert backwards.status_code == 400
    assert backwards.json() == {
        "detail": "ends_on: The campaign cannot end before it starts.",
        "errors": {"ends_on": ["The campaign cannot end before it starts."]},
    }
    # one date against the stored other: the data's state refuses it
    dated = f"/api/v1/campaigns/{world.ours.campaign.pk}/"
    assert _json(api, "patch", dated, {"starts_on": "2027-03-01"}).status_code == 200
    early = _json(api, "patch", dated, {"ends_on": "2027-02-01"})
    assert early.status_code == 409 and "cannot end before it starts" in early.json()["detail"]
    url = f"/api/v1/campaigns/{world.ours.campaign.pk}/ads/"
    zero = _json(api, "post", url, {"name": "Zero", "duration_seconds": 0})
    assert zero.status_code == 400 and "more than 0" in zero.json()["detail"]
    endless = _json(api, "post", url, {"name": "Endless", "duration_seconds": 3 * 3600 + 1})
    assert endless.status_code == 400 and "AD_MAX_SECONDS" in endless.json()["detail"]
    assert _json(api, "post", url, {"name": "Spot A"}).status_code == 409
    # an upload still being analysed cannot be deleted, nor its ad or campaign
    batch = world.ours.batches["Spot A"]
    status_change(UploadBatch.objects.filter(pk=batch.pk), to=BatchStatus.PROCESSING)
    for target in (
        f"/api/v1/batches/{batch.pk}/",
        f"/api/v1/ads/{batch.ad_id}/",
        f"/api/v1/campaigns/{world.ours.campaign.pk}/",
    ):
        refused = api.delete(target)
        assert refused.status_code == 409, target
        assert "still being" in refused.json()["detail"] or "processed" in refused.json()["detail"]
    assert UploadBatch.objects.filter(pk=batch.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "nul\x00byte"}, "name"),
        ({"name": "ok", "starts_on": "2027-13-40"}, "starts_on"),
        ({"name": "ok", "team": "1"}, "team"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(world: ApiWorld, api, body, field):
    response = _json(api, "post", "/api/v1/campaigns/", body)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert response.json()["detail"].startswith(f"{field}: ")
    assert (
        not Campaign.objects.filter(team=world.ours.team)
        .exclude(pk=world.ours.campaign.pk)
        .exists()
    )


def test_unreadable_bodies_and_unknown_urls_answer_json(world: ApiWorld, api):
    broken = api.post("/api/v1/campaigns/", "{not json", content_type="application/json")
    assert broken.status_code == 400 and "JSON parse error" in broken.json()["detail"]
    form = api.post(
        "/api/v1/campaigns/", "name=x", content_type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 415 and form["Content-Type"] == "application/json"
    for url in ("/api/v1/nothing/", "/api/v1/campaigns/abc/", "/api/v2/", "/api/v1/campaigns"):
        missing = api.get(url)
        assert missing.status_code == 404 and "/api/docs/" in missing.json()["detail"], url
    assert api.delete("/api/v1/teams/").status_code == 405
    assert api.get("/api/v1/teams/", HTTP_ACCEPT="application/xml").status_code == 406
    twice = api.get("/api/v1/campaigns/?page_size=5&page_size=6")
    assert twice.status_code == 400 and "once" in twice.json()["detail"]


def test_the_team_of_a_new_campaign_is_one_of_the_callers(world: ApiWorld, api):
    response = _json(api, "post", "/api/v1/campaigns/", {"name": "X", "team": world.theirs.team.pk})
    assert response.status_code == 404
    assert not Campaign.objects.filter(name="X").exists()
    # a browser session in two teams must say which
    user = world.ours.user
    from campaigns.services.teams import membership_add

    membership_add(team=factories.team_create(name="Third"), user=user)
    client = Client()
    client.force_login(user)
    unsaid = _json(client, "post", "/api/v1/campaigns/", {"name": "Y"})
    assert unsaid.status_code == 400 and "several" in unsaid.json()["detail"]
    said = _json(client, "post", "/api/v1/campaigns/", {"name": "Y", "team": world.ours.team.pk})
    assert said.status_code == 201


def test_a_browser_session_needs_its_csrf_token_to_write(world: ApiWorld):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.ours.user)
    assert client.get("/api/v1/campaigns/").status_code == 200
    refused = _json(client, "post", "/api/v1/campaigns/", {"name": "Z"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


# Uploads and batches -------------------------------------------------------------------------


def test_a_zip_upload_answers_the_new_batch(world: ApiWorld, api):
    ad = world.ours.ads["Spot A"]
    archive = SimpleUploadedFile(
        "reactions.zip", zip_build({"a.png": plain_photo(1), "b.png": plain_photo(2)})
    )
    response = api.post(f"/api/v1/ads/{ad.pk}/uploads/", {"archive": archive})
    assert response.status_code == 201, response.json()
    body = response.json()
    batch = UploadBatch.objects.get(pk=body["id"])
    assert (body["ad"], body["source_name"], body["status"]) == (ad.pk, "reactions.zip", "received")
    assert body["finished"] is False and body["progress"]["stage"]
    assert body["urls"]["self"].endswith(f"/api/v1/batches/{batch.pk}/")
    assert batch.uploaded_by == world.ours.user and batch.archive.name
    # and the ad's uploads list it
    listed = api.get(f"/api/v1/ads/{ad.pk}/uploads/").json()["results"]
    assert batch.pk in [row["id"] for row in listed]


def test_loose_files_and_a_manifest_are_packed_as_one_upload(world: ApiWorld, api):
    import zipfile

    from django.core.files.storage import default_storage

    ad = world.ours.ads["Spot B"]
    manifest = b"file,viewer,offset_seconds,market\na.png,r1,2,DE\n"
    response = api.post(
        f"/api/v1/ads/{ad.pk}/uploads/files/",
        {
            "files": [
                SimpleUploadedFile("a.png", plain_photo(3)),
                SimpleUploadedFile("b.png", plain_photo(4)),
            ],
            "manifest": SimpleUploadedFile("viewers.csv", manifest),
        },
    )
    assert response.status_code == 201, response.json()
    batch = UploadBatch.objects.get(pk=response.json()["id"])
    with default_storage.open(batch.archive.name, "rb") as stored:
        names = zipfile.ZipFile(stored).namelist()
    assert sorted(names) == ["a.png", "b.png", "manifest.csv"]


def test_uploads_keep_the_browsers_limits(world: ApiWorld, api, settings):
    ad = world.ours.ads["Spot A"]
    url = f"/api/v1/ads/{ad.pk}/uploads/"
    settings.UPLOAD_MAX_BYTES = 1000
    big = SimpleUploadedFile("big.zip", b"x" * 5000)
    too_large = api.post(url, {"archive": big})
    assert too_large.status_code == 413 and "limit" in too_large.json()["detail"]
    settings.UPLOAD_MAX_BYTES = 10**9
    empty = api.post(url, {"archive": SimpleUploadedFile("empty.zip", b"")})
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    nothing = api.post(url, {})
    assert nothing.status_code == 400 and "archive" in nothing.json()["errors"]
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    many = [SimpleUploadedFile(f"{i}.png", plain_photo(i)) for i in range(3)]
    refused = api.post(f"/api/v1/ads/{ad.pk}/uploads/files/", {"files": many})
    assert refused.status_code == 400 and "ZIP" in refused.json()["detail"]
    assert (
        not UploadBatch.objects.filter(ad=ad).exclude(pk=world.ours.batches["Spot A"].pk).exists()
    )


def test_an_upload_without_an_active_model_is_a_409(world: ApiWorld, api):
    world.model.is_active = False
    world.model.save()
    ad = world.ours.ads["Spot A"]
    archive = SimpleUploadedFile("r.zip", zip_build({"a.png": plain_photo(1)}))
    response = api.post(f"/api/v1/ads/{ad.pk}/uploads/", {"archive": archive})
    assert response.status_code == 409 and "No model version is active" in response.json()["detail"]


def test_a_batch_lists_the_members_it_could_not_use_with_their_reasons(world: ApiWorld, api):
    batch = world.ours.batches["Spot A"]
    bad = factories.image_create(batch=batch, status=ImageStatus.FAILED)
    bad.error = "not a photo: cannot be decoded"
    bad.save()
    body = api.get(f"/api/v1/batches/{batch.pk}/").json()
    assert body["status"] == "done" and body["finished"] is True
    assert body["progress"]["viewers"] == 12 and body["progress"]["failed"] == 1
    assert body["problems"] == [
        {
            "id": bad.pk,
            "name": bad.original_name,
            "kind": "photo",
            "status": "failed",
            "error": "not a photo: cannot be decoded",
        }
    ]


# Faces, results, exports ---------------------------------------------------------------------


def test_faces_come_in_pages_with_the_dashboards_filters(world: ApiWorld, api):
    campaign = world.ours.campaign
    seen, url = [], f"/api/v1/campaigns/{campaign.pk}/faces/?page_size=300"
    while url:
        page = api.get(url).json()
        seen += page["results"]
        url = page["next"]
    assert len(seen) == 2 * 12 * 40
    assert [face["id"] for face in seen] == sorted(face["id"] for face in seen)
    first = seen[0]
    assert set(first["probabilities"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "neutral",
        "sad",
        "surprise",
    }
    assert first["confidence"] == pytest.approx(0.9)
    # faces analysed before pose was measured: no pose, and their expression counts
    assert (first["yaw"], first["attentive"], first["expression_counted"]) == (None, None, True)
    # the segment filter: only DE viewers (odd numbers)
    de = api.get(f"/api/v1/campaigns/{campaign.pk}/faces/?segment=market=DE&page_size=1000").json()
    assert len(de["results"]) == 2 * 6 * 40
    assert {face["viewer"][1:] for face in de["results"]} == {"1", "3", "5", "7", "9", "11"}
    # one ad's faces
    ad = world.ours.ads["Spot B"]
    ad_faces = api.get(f"/api/v1/ads/{ad.pk}/faces/?page_size=1000").json()["results"]
    assert len(ad_faces) == 12 * 40 and {face["ad"] for face in ad_faces} == {ad.pk}
    # a bad page size or cursor
    assert api.get(f"/api/v1/ads/{ad.pk}/faces/?page_size=0").status_code == 400
    assert api.get(f"/api/v1/ads/{ad.pk}/faces/?cursor=nonsense").status_code == 404


def _dashboard(world: ApiWorld, query: dict[str, str]):
    """The page's context, with its timeline and key moments (which it loads after)."""
    client = Client()
    client.force_login(world.ours.user)
    campaign_id = world.ours.campaign.pk
    context = client.get(reverse("campaigns:campaign_dashboard", args=[campaign_id]), query).context
    timeline_url = reverse("campaigns:campaign_dashboard_timeline", args=[campaign_id])
    part = client.get(timeline_url, query).context
    shown = ("verdict", "total_faces", "summaries", "segment_rows", "norms", "confidence")
    return {
        **{key: context[key] for key in shown},
        "timeline": part["timeline"],
        "moments": part["moments"],
        "attention": part["attention"],
    }


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"breakdown": "market"},
        {"segment": "market=DE", "headline": "negative"},
        {"min_confidence": "50", "headline": "valence"},
    ],
)
def test_results_are_the_dashboards_own_figures(world: ApiWorld, api, query):
    # given the dashboard's figures for a filter
    context = _dashboard(world, query)
    # when the API is asked with the same query
    response = api.get(f"/api/v1/campaigns/{world.ours.campaign.pk}/results/", query)
    assert response.status_code == 200, response.json()
    results = response.json()
    # then every figure is the page's
    verdict = context["verdict"]
    assert results["headline"]["key"] == verdict.headline.key
    assert results["verdict"]["summary"] == verdict.summary
    assert results["verdict"]["unit_note"] == verdict.unit_note
    assert [s["ad"] for s in results["verdict"]["standings"]] == [
        s.ad_id for s in verdict.standings
    ]
    for ours, page in zip(results["verdict"]["standings"], verdict.standings, strict=True):
        assert ours["estimate"] == EstimateSerializer(page.estimate).data
        assert (ours["rank"], ours["sentence"]) == (page.rank, page.sentence)
    assert results["total_faces"] == context["total_faces"]
    mix = {row["ad"]: row for row in results["mix"]}
    for summary in context["summaries"]:
        assert mix[summary.ad_id]["faces"] == summary.faces
        assert mix[summary.ad_id]["positive"]["share"] == pytest.approx(summary.positive.share)
        assert mix[summary.ad_id]["positive"]["ci_low"] == pytest.approx(
            summary.positive.interval.low
        )
    assert results["timeline"]["bin_seconds"] == context["timeline"].width
    assert results["attention"]["bin_seconds"] == context["timeline"].width
    attention = {ad["ad"]: ad["bins"] for ad in results["attention"]["ads"]}
    assert len(attention) == len(context["attention"])
    for ad_name, bins in context["attention"]:
        ad_id = world.ours.ads[ad_name].pk
        assert [b["attentive"]["value"] for b in attention[ad_id]] == [
            pytest.approx(b.attentive.value) for b in bins
        ]
    assert [m["sentence"] for m in results["key_moments"]] == [
        m.sentence for m in context["moments"]
    ]
    assert [row["value"] for row in results["segments"]] == [
        row.value for row in context["segment_rows"]
    ]
    assert [n["percentile"] for n in results["norms"]] == [n.percentile for n in context["norms"]]
    if context["confidence"] is not None:
        assert results["confidence"]["kept_faces"] == context["confidence"].kept_faces


def test_results_say_which_ad_is_better_and_when(world: ApiWorld, api):
    results = api.get(
        f"/api/v1/campaigns/{world.ours.campaign.pk}/results/?breakdown=market"
    ).json()
    summary = results["verdict"]["summary"]
    assert summary.startswith(
        "Spot A is the best ad on positive: Spot A is 50 points more positive"
    )
    best, second = results["verdict"]["standings"]
    assert (best["name"], best["rank"], second["rank"]) == ("Spot A", 1, 2)
    assert second["clearly_behind"] is True and second["behind_best"]["value"] == pytest.approx(0.5)
    assert [(m["name"], m["headline"], m["second_from"]) for m in results["key_moments"]] == [
        ("Spot B", "positive", 10),
        ("Spot B", "negative", 10),
    ]
    assert [row["value"] for row in results["segments"]] == ["DE", "FR"]
    assert results["model_versions"][0]["model_version_name"].startswith("fer-cnn 1.0")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date_from": "2027-02-01", "date_to": "2027-01-01"}, "non_field_errors"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"min_confidence": "55"}, "min_confidence"),
        ({"headline": "best"}, "headline"),
        ({"segment": "market"}, "segment"),
        ({"segment": "market=D\x00E"}, "segment"),
        ({"breakdown": ""}, "breakdown"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(world: ApiWorld, api, query, field):
    response = api.get(f"/api/v1/campaigns/{world.ours.campaign.pk}/results/", query)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


def test_a_segment_no_viewer_has_matches_no_face(world: ApiWorld, api):
    url = f"/api/v1/campaigns/{world.ours.campaign.pk}/results/"
    assert api.get(url, {"segment": "market=US"}).json()["total_faces"] == 0
    missing = api.get(url, {"model_version": "999"})
    assert missing.status_code == 404 and "999" in missing.json()["detail"]


def _streamed(response: Any) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def test_exports_stream_the_same_csv_as_the_dashboards_links(world: ApiWorld, api):
    client = Client()
    client.force_login(world.ours.user)
    campaign, ad = world.ours.campaign, world.ours.ads["Spot A"]
    for level in ("faces", "ads", "timeline", "viewers"):
        page = client.get(
            reverse("campaigns:campaign_export", args=[campaign.pk]), {"level": level}
        )
        ours = api.get(
            f"/api/v1/campaigns/{campaign.pk}/export/", {"level": level}, HTTP_ACCEPT="text/csv"
        )
        assert ours.status_code == 200 and ours.streaming
        assert ours["Content-Type"] == "text/csv; charset=utf-8"
        body = _streamed(ours)
        assert body.startswith("\ufeff")
        assert body == _streamed(page), level
    plain = api.get(f"/api/v1/ads/{ad.pk}/export/", {"level": "faces", "bom": "false"})
    text = _streamed(plain)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert not text.startswith("\ufeff") and len(rows) == 12 * 40
    assert {row["ad"] for row in rows} == {"Spot A"}
    assert re.search(
        r'filename="ours-launch-spot-a-faces-nobom-\d{8}-\d{6}\.csv"', plain["Content-Disposition"]
    )
    bad = api.get(f"/api/v1/ads/{ad.pk}/export/", {"level": "photos"}, HTTP_ACCEPT="text/csv")
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json"


def test_model_versions_are_read_only(world: ApiWorld, api):
    listed = api.get("/api/v1/model-versions/").json()["results"]
    assert [(m["name"], m["version"], m["is_active"]) for m in listed] == [("fer-cnn", "1.0", True)]
    one = api.get(f"/api/v1/model-versions/{world.model.pk}/").json()
    assert one["classes"][3] == "happy"
    assert _json(api, "post", "/api/v1/model-versions/", {}).status_code == 405
    newer = model_version_activate(model_version=factories.model_version_create(version="2.0"))
    assert api.get(f"/api/v1/model-versions/{newer.pk}/").json()["is_active"] is True


# Abuse: the rate limit -----------------------------------------------------------------------


def test_a_token_past_its_rate_limit_gets_429_with_retry_after(world: ApiWorld, settings):
    settings.API_RATE_LIMIT = "3/minute"
    api = TokenClient(world.ours.secret)
    statuses = [api.get("/api/v1/teams/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/api/v1/teams/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "3/minute" in refused.json()["detail"]
    # another token has its own allowance
    assert TokenClient(world.theirs.secret).get("/api/v1/teams/").status_code == 200


def test_the_api_answers_while_the_caches_redis_is_down(world: ApiWorld, settings):
    # given request counts kept in a Redis that cannot be reached
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.API_RATE_LIMIT = "1/minute"
    # when a token makes requests, then they are answered (not counted), never a 500
    api = TokenClient(world.ours.secret)
    assert [api.get("/api/v1/teams/").status_code for _ in range(2)] == [200, 200]


# Schema and documentation --------------------------------------------------------------------


def test_the_schema_is_valid_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    validate(schema)


def _request_strings(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, schema) of every string a request may send: query parameters, JSON fields."""
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                found.append((f"{method} {path} ?{parameter['name']}", parameter["schema"]))
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            for field, field_schema in component.get("properties", {}).items():
                found.append((f"{name}.{field}", field_schema))
    return [(where, s) for where, s in found if s.get("type") == "string"]


def test_the_schema_says_what_a_request_may_not_hold(client, world: ApiWorld, api):
    # given the schema (schemathesis called requests it allows but the API refuses with a
    # 400 "schema-valid request rejected": a NUL in a string, an empty archive)
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)
    strings = _request_strings(schema)
    assert len(strings) > 10
    # then every free string's pattern refuses a NUL (dates, enums, files are no free text)
    for where, string in strings:
        if not string.keys() & {"format", "enum"}:
            assert re.search(string["pattern"], "a\x00b") is None, where
            assert re.search(string["pattern"], "market=DE"), where
    # and an archive may not be empty
    archive = schema["components"]["schemas"]["ArchiveUploadRequest"]["properties"]["archive"]
    assert archive["minLength"] == 1
    # and the API does refuse what the schema rules out, with a 400
    url = f"/api/v1/ads/{world.ours.ads['Spot A'].pk}/uploads/"
    empty = api.post(url, {"archive": SimpleUploadedFile("e.zip", b"")})
    assert empty.status_code == 400 and "is empty" in empty.json()["detail"]
    results = f"/api/v1/campaigns/{world.ours.campaign.pk}/results/"
    assert api.get(results, {"breakdown": "mar\x00ket"}).status_code == 400


def test_the_docs_are_served_from_this_site_only(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi: 3.0" in schema.content
    for url in ("/api/docs/", "/api/docs/redoc/"):
        page = client.get(url).content.decode()
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources and all(s.startswith("/") for s in sources), (url, sources)
        assert "<script>" not in page  # no inline script: the site's CSP allows none
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"/api/schema/" in script.content


@pytest.mark.parametrize(
    "tokens", ["r=1&p=abc", "p=abc", "p=1e9", "p=-1", "o=1&p=%00", "p=" + "9" * 40]
)
def test_a_forged_cursor_is_a_404_on_every_paginated_list(world: ApiWorld, api, tokens):
    # given a cursor this API never gave (base64 of a position that is no id)
    cursor = base64.b64encode(tokens.encode()).decode()
    ad, campaign = world.ours.ads["Spot A"], world.ours.campaign
    lists = [
        "/api/v1/teams/",
        "/api/v1/campaigns/",
        f"/api/v1/campaigns/{campaign.pk}/ads/",
        f"/api/v1/ads/{ad.pk}/uploads/",
        f"/api/v1/campaigns/{campaign.pk}/faces/",
        f"/api/v1/ads/{ad.pk}/faces/",
        "/api/v1/model-versions/",
    ]
    for url in lists:
        # when a list is asked for with it (it answered 500 on every list)
        response = api.get(url, {"cursor": cursor})
        # then it is a 404 saying the cursor is invalid
        assert response.status_code == 404, (url, response.content)
        assert response.json() == {"detail": "Invalid cursor"}
