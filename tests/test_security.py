"""What an attacker or an unlucky operator meets at the edges: login throttling, production
settings, security headers, the health check's details, JSON errors for JSON clients."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from inference.services import model_version_register
from tests import factories

pytestmark = pytest.mark.django_db


def _log_in(client: Client, username: str, password: str, address: str = "203.0.113.5"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_a_password_guesser_is_locked_out_even_when_it_finally_guesses_right(client):
    # given a user, and an attacker who tries wrong passwords up to the limit
    user = factories.user_create()
    statuses = [
        _log_in(client, user.username, "wrong-guess").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    # (the failure that reaches the limit is answered with the lock already)
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    # when the right password comes next, from the same address
    response = _log_in(client, user.username, factories.PASSWORD)
    # then the login is refused with 429 and a plain page, and nobody is logged in
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_per_username_across_addresses_and_per_address_across_usernames():
    victim, other = factories.user_create(), factories.user_create()
    # guesses for one username from many addresses lock that username
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _log_in(Client(), victim.username, "wrong", address=f"198.51.100.{attempt + 1}")
    assert _log_in(Client(), victim.username, factories.PASSWORD, "192.0.2.77").status_code == 429
    # guesses from one address over many usernames lock that address
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _log_in(Client(), f"nobody-{attempt}", "wrong", address="192.0.2.200")
    assert _log_in(Client(), other.username, factories.PASSWORD, "192.0.2.200").status_code == 429
    # while the other user from another address still logs in
    response = _log_in(Client(), other.username, factories.PASSWORD, "192.0.2.201")
    assert response.status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_throttled(client, settings):
    # given one proxy in front that appends the client's address to X-Forwarded-For
    settings.TRUSTED_PROXY_COUNT = 1
    user = factories.user_create()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": f"nobody-{attempt}", "password": "x"},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9",  # a spoofed entry, then the real one
        )
    # then the client behind the proxy is locked, other clients of the same proxy are not
    locked = Client().post(
        reverse("login"),
        {"username": user.username, "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    free = Client().post(
        reverse("login"),
        {"username": user.username, "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.10",
    )
    assert (locked.status_code, free.status_code) == (429, 302)


def _production(script: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """Run `script` in a fresh process with the production settings (DEBUG off) and these
    environment variables."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "analytics.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://analytics.example.com",
        "DJANGO_SETTINGS_MODULE": "fer_site.settings",
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_settings_pass_check_deploy():
    result = _production(
        "import django, sys; django.setup(); from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING')"
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_redirects_to_https_and_sends_hsts_except_to_the_health_probe():
    result = _production(
        "import django, json; django.setup();"
        "from django.test import Client; c = Client(SERVER_NAME='analytics.example.com');"
        "plain = c.get('/accounts/login/');"
        "secure = c.get('/accounts/login/', secure=True);"
        "probe = c.get('/healthz');"
        "print(json.dumps({'plain': [plain.status_code, plain.get('Location', '')],"
        " 'hsts': secure.get('Strict-Transport-Security', ''),"
        " 'csp': secure.get('Content-Security-Policy', ''), 'probe': probe.status_code}))"
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://analytics.example.com/accounts/login/"]
    assert "max-age=31536000" in seen["hsts"] and "includeSubDomains" in seen["hsts"]
    assert "script-src 'self'" in seen["csp"]
    assert seen["probe"] in (200, 503)  # answered over plain HTTP, not redirected


def _directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as its directives (their order carries no meaning)."""
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: sources for name, *sources in parts}


SITE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def test_every_page_sends_a_content_security_policy_without_inline_scripts(client):
    client.force_login(factories.user_create(team=factories.team_create()))
    response = client.get(reverse("campaigns:campaign_list"))
    assert _directives(response["Content-Security-Policy"]) == SITE_POLICY
    assert "<script>" not in response.content.decode()
    # and so do a JSON error and a redirect
    assert _directives(client.get("/api/v1/nowhere/")["Content-Security-Policy"]) == SITE_POLICY
    client.logout()
    login = client.get(reverse("campaigns:campaign_list"))
    assert login.status_code == 302
    assert _directives(login["Content-Security-Policy"]) == SITE_POLICY


def test_the_api_reference_alone_may_start_a_worker_from_a_blob(client):
    response = client.get("/api/docs/redoc/")
    assert _directives(response["Content-Security-Policy"]) == {
        **SITE_POLICY,
        "worker-src": ["'self'", "blob:"],
    }


def test_the_policy_is_the_operators_when_set_and_none_when_empty():
    script = (
        "import django; django.setup(); from django.test import Client;"
        "r = Client(SERVER_NAME='analytics.example.com').get('/healthz', secure=True);"
        "import json; print(json.dumps(r.get('Content-Security-Policy')))"
    )
    own = _production(
        script, CONTENT_SECURITY_POLICY="script-src 'self' https://cdn.example.com; sandbox"
    )
    assert own.returncode == 0, own.stderr
    policy = json.loads(own.stdout.strip().splitlines()[-1])
    # only what the operator wrote: no default-src added
    assert _directives(policy) == {
        "script-src": ["'self'", "https://cdn.example.com"],
        "sandbox": [],
    }
    empty = _production(script, CONTENT_SECURITY_POLICY="")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout.strip().splitlines()[-1]) is None
    wrong = _production(script, CONTENT_SECURITY_POLICY="script-sorce 'self'")
    assert wrong.returncode != 0 and "unknown directive 'script-sorce'" in wrong.stderr


@pytest.fixture
def active_model(tmp_path):
    return model_version_register(
        source_dir=factories.artifact_dir_create(tmp_path / "artifact"),
        activate=True,
        allow_unmeasured=True,
    )


def test_healthz_shows_only_ok_to_the_public_and_details_to_staff_or_the_token(
    client, active_model, settings
):
    settings.HEALTHZ_TOKEN = "probe-secret"
    # the public (a load balancer) learns only whether the service is fine
    public = client.get(reverse("healthz"))
    assert public.json() == {"ok": True}
    assert client.get(reverse("healthz"), {"token": "wrong"}).json() == {"ok": True}
    # the token holder and staff see every check
    with_token = client.get(reverse("healthz"), HTTP_AUTHORIZATION="Bearer probe-secret")
    assert set(with_token.json()) == {"ok", "database", "broker", "model"}
    staff = factories.user_create()
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(reverse("healthz")).json()["database"]["ok"] is True


def test_errors_are_json_for_clients_that_ask_for_json(client):
    client.force_login(factories.user_create(team=factories.team_create()))
    response = client.get("/no/such/page/", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {"errors": ["Not found."]}
    other_team_batch = factories.batch_create(
        ad=factories.ad_create(campaign=factories.campaign_create(team=factories.team_create()))
    )
    response = client.get(
        reverse("campaigns:batch_status", args=[other_team_batch.pk]),
        headers={"accept": "application/json"},
    )
    assert response.status_code == 404 and response.json() == {"errors": ["Not found."]}
