"""Finding 2: body limits that hold whatever the framing. The gateway (MAX_REQUEST_BYTES) and every
service endpoint that takes a body (GraphQL: twice that, for the gateway's entity batches; webhooks:
1 MB) count bytes as they arrive: a chunked body, which has no Content-Length, is refused at the
first byte over the limit, before its end. Compressed bodies are refused, so nothing is inflated."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from tests.security import wire
from tests.stack import SERVICES, gateway_url, port, subgraph_url

LIMIT = int(os.environ.get("MAX_REQUEST_BYTES", "2000000"))
JSON = {"content-type": "application/json"}


def padded(size: int) -> bytes:
    """A valid request of `size` bytes: the padding is a variable the document does not use."""
    head = b'{"query": "{ __typename }", "variables": {"padding": "'
    return head + b"x" * (size - len(head) - 3) + b'"}}'


async def chunks(body: bytes, size: int = 64 * 1024):
    for start in range(0, len(body), size):
        yield body[start:start + size]


async def test_a_chunked_body_over_the_limit_is_refused_by_the_gateway(http):
    # Just over: the whole body is sent by the time the gateway answers (the endless ones are below).
    response = await http.post(gateway_url(), content=chunks(padded(LIMIT + 10)), headers=JSON)
    assert "content-length" not in response.request.headers  # sent chunked: the gateway counted bytes
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_chunked_body_under_the_limit_is_answered(http):
    response = await http.post(gateway_url(), content=chunks(padded(100_000)), headers=JSON)
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize("size", [LIMIT + 200_000, 20_000_000], ids=["2.2MB", "20MB"])
def test_the_gateway_refuses_a_body_before_it_ends(size):
    assert wire.endless_chunked_post(gateway_url(), JSON, send_bytes=size) == 413


def test_a_body_with_a_length_and_chunks_is_refused_before_anything_counts():
    """The gateway counts the bytes of a body without Content-Length only (a length is checked as it
    is, and Node's parser hands over that many bytes and no more): a request claiming both a length
    and chunks, the smuggler's framing, must not get past the parser with a small length and an
    endless chunked body."""
    claimed = {**JSON, "Content-Length": "100"}
    assert wire.endless_chunked_post(gateway_url(), claimed, send_bytes=LIMIT + 200_000) == 400


@pytest.mark.parametrize("service", SERVICES)
def test_every_subgraph_refuses_a_body_before_it_ends(service):
    assert wire.endless_chunked_post(subgraph_url(service), JSON, send_bytes=2 * LIMIT + 200_000) == 413


def test_webhooks_refuse_a_body_before_it_ends():
    url = f"http://127.0.0.1:{port('customers')}/webhooks/shopify/orders/create"
    assert wire.endless_chunked_post(url, JSON, send_bytes=1_200_000) == 413


@pytest.mark.parametrize("url", [gateway_url(), subgraph_url("points")], ids=["gateway", "subgraph"])
async def test_compressed_bodies_are_refused_unopened(http, url):
    bomb = gzip.compress(json.dumps({"query": "{ __typename }", "padding": "0" * 20_000_000}).encode())
    response = await http.post(url, content=bomb, headers={**JSON, "content-encoding": "gzip"})
    assert len(bomb) < 100_000 and response.status_code == 415


def test_the_gateway_takes_no_websocket_connections():
    """GraphQL over WebSockets would pass by the body and media-type checks: there is none."""
    assert wire.websocket_handshake(gateway_url()) != 101
