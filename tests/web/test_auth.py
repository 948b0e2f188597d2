from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient
from web_fixtures import TOKEN, make_app, serve

from ivr_engine.config import ConfigError, WebSettings
from ivr_engine.metrics import IvrMetrics, LiveCalls
from ivr_engine.web import create_app
from ivr_engine.web.auth import SESSION_COOKIE, TokenCheck, safe_next


def test_a_page_without_token_redirects_to_login_keeping_the_target(anonymous: TestClient) -> None:
    response = anonymous.get("/live?x=1")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/live?x=1"]}


@pytest.mark.parametrize("path", ["/api/live", "/metrics"])
def test_api_without_token_is_401_with_bearer_challenge(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "token" in response.json()["error"]


def test_wrong_bearer_token_is_refused(anonymous: TestClient) -> None:
    for token in ("wrong", TOKEN + "x", TOKEN[:-1], ""):
        response = anonymous.get("/api/live", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


def test_bearer_token_is_accepted(anonymous: TestClient) -> None:
    response = anonymous.get("/api/live", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.json() == {"count": 0, "calls": []}


def test_login_page_and_health_are_public(anonymous: TestClient) -> None:
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/static/tables.js").status_code == 200


def test_wrong_token_on_the_login_form_sets_no_cookie(anonymous: TestClient) -> None:
    response = anonymous.post("/login", data={"token": "nope", "next": "/live"})
    assert response.status_code == 401
    assert "Wrong token" in response.text
    assert SESSION_COOKIE not in response.cookies
    assert anonymous.get("/live").status_code == 303


def test_login_sets_a_strict_httponly_cookie_that_is_not_the_token(anonymous: TestClient) -> None:
    response = anonymous.post("/login", data={"token": TOKEN, "next": "/live"})
    assert response.status_code == 303
    assert response.headers["location"] == "/live"
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=strict" in set_cookie
    cookie = response.cookies[SESSION_COOKIE]
    assert TOKEN not in cookie
    assert anonymous.get("/live").status_code == 200
    assert anonymous.get("/api/live").status_code == 200


def test_logout_ends_the_session(anonymous: TestClient) -> None:
    anonymous.post("/login", data={"token": TOKEN})
    assert anonymous.get("/live").status_code == 200
    anonymous.post("/logout")
    assert anonymous.get("/live").status_code == 303


def test_a_forged_or_expired_cookie_is_refused(anonymous: TestClient) -> None:
    check = TokenCheck(TOKEN)
    expired = TokenCheck(TOKEN, clock=lambda: 0.0).new_session()
    other_token = TokenCheck("another-token-of-some-length").new_session()
    for cookie in (expired, other_token, "9999999999.deadbeef", "garbage", check.new_session()[:-1]):
        anonymous.cookies.set(SESSION_COOKIE, cookie)
        assert anonymous.get("/api/live").status_code == 401, cookie
    anonymous.cookies.set(SESSION_COOKIE, check.new_session())
    assert anonymous.get("/api/live").status_code == 200


def raw_get(base: str, path: str, cookie: bytes) -> bytes:
    """The status line of a GET with `cookie` sent as raw bytes (an HTTP client would re-encode it)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nCookie: " + SESSION_COOKIE.encode()
                     + b"=" + cookie + b"\r\nConnection: close\r\n\r\n")  # fmt: skip
        return conn.makefile("rb").readline()


def test_a_malformed_cookie_is_refused_not_an_error(metrics: IvrMetrics, live_calls: LiveCalls) -> None:
    # a superscript digit (latin-1 byte 0xb2), too many digits for int(), a non-ASCII signature
    cookies = [b"\xb2.abc", b"1\xb23.abc", b"9" * 5000 + b".abc", b"9999999999.\xe9"]
    with serve(make_app(metrics, live_calls)) as base:
        for cookie in cookies:
            assert raw_get(base, "/api/flows", cookie).split()[1] == b"401", cookie
            assert raw_get(base, "/flows/hotline", cookie).split()[1] == b"303", cookie


def test_login_never_redirects_off_site(anonymous: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "live"):
        response = anonymous.post("/login", data={"token": TOKEN, "next": target})
        assert response.headers["location"] == "/", target
    assert safe_next("/flows/hotline?version=2") == "/flows/hotline?version=2"


def test_metrics_can_be_public(metrics: IvrMetrics, live_calls: LiveCalls) -> None:
    client = TestClient(make_app(metrics, live_calls, metrics_public=True))
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/live", follow_redirects=False).status_code == 401


@pytest.mark.parametrize(("token", "problem"), [("", "not set"), ("short-token", "too short")])
def test_the_dashboard_refuses_to_start_without_a_strong_token(
    live_calls: LiveCalls, token: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=f"IVR_WEB_TOKEN is {problem}: .* at least 16 characters"):
        create_app(
            WebSettings(token=token),
            stats_store=None,
            flows=list,
            registry=IvrMetrics().registry,
            live_calls=live_calls,
        )


def test_every_response_carries_a_strict_content_security_policy(anonymous: TestClient) -> None:
    policy = anonymous.get("/login").headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
