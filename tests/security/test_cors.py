"""Finding 5: CORS from an explicit allow-list. Only a listed origin gets CORS headers, never `null`,
never credentials unless CORS_ALLOW_CREDENTIALS=true. An empty CORS_ORIGINS allows the loopback
origins (any port) in development and no origin in production. The gateway and the console's
/live stream follow the same rule."""

from __future__ import annotations

import pytest

from tests.stack import gateway_url, port

PREFLIGHT = {"access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type"}
TYPENAME = {"query": "{ __typename }"}


def live_url() -> str:
    return f"http://127.0.0.1:{port('console')}/live"


async def cors_headers(http, url: str, origin: str) -> list[dict]:
    preflight = await http.options(url, headers={"origin": origin, **PREFLIGHT})
    call = await http.post(url, json=TYPENAME, headers={"origin": origin}) if url.endswith("/graphql") \
        else await http.get(url, headers={"origin": origin})
    return [{k: v for k, v in r.headers.items() if k.startswith("access-control-")} for r in (preflight, call)]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost.evil.example"])
@pytest.mark.parametrize("where", ["gateway", "console"])
async def test_an_origin_off_the_list_gets_no_cors_headers(http, where, origin):
    url = gateway_url() if where == "gateway" else live_url()
    for headers in await cors_headers(http, url, origin):
        assert "access-control-allow-origin" not in headers and "access-control-allow-credentials" not in headers


@pytest.mark.parametrize("where", ["gateway", "console"])
async def test_development_allows_loopback_origins_without_credentials(http, where):
    url = gateway_url() if where == "gateway" else live_url()
    preflight, call = await cors_headers(http, url, "http://localhost:3000")
    assert preflight["access-control-allow-origin"] == call["access-control-allow-origin"] == "http://localhost:3000"
    assert "authorization" in preflight["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight and "access-control-allow-credentials" not in call


async def test_production_allows_the_listed_origins_only(http, edge):
    preflight, call = await cors_headers(http, edge.gateway, "https://shop.example")
    assert preflight["access-control-allow-origin"] == call["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-credentials" not in call
    for origin in ("http://localhost:3000", "null", "https://shop.example.evil"):
        for headers in await cors_headers(http, edge.gateway, origin):
            assert "access-control-allow-origin" not in headers
