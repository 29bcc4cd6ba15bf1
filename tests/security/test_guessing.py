"""Finding 3: guessing is slowed, a storefront is not. Failed credentials are counted per client
address at the gateway (AUTH_FAILURES_PER_MINUTE, 30): past it, that address gets RATE_LIMITED for
any credential, and unknown keys never get a rate-limit bucket of their own. Redemptions and code
checks have limits of their own: REDEMPTIONS_PER_MINUTE (60) per customer and field,
CODE_CHECKS_PER_MINUTE (1200) per API key and field. Production refuses API keys under 128 bits."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from tests.conftest import ROOT
from tests.security.conftest import client_address
from tests.stack import INGEST, codes, customer_token, gateway_url, throttled, unique

ME = "{ me { id } }"
PRODUCT = '{ product(id: "p-1") { id } }'
FAILURES = int(os.environ.get("AUTH_FAILURES_PER_MINUTE", "30"))
REDEMPTIONS = int(os.environ.get("REDEMPTIONS_PER_MINUTE", "60"))
REDEEM = 'mutation($k: String!) { redeemReward(rewardId: "no-such-reward", idempotencyKey: $k) { code } }'
VALIDATE = 'mutation($c: String!) { validateRewardCode(code: $c) { valid reason } }'


async def ask(http, query: str, headers: dict, url: str | None = None, variables: dict | None = None) -> dict:
    response = await http.post(url or gateway_url(), json={"query": query, "variables": variables or {}},
                               headers=headers)
    assert response.status_code < 500, response.text
    return response.json()


async def test_wrong_api_keys_are_throttled_per_client_address_and_a_storefront_is_not(http, new_customer):
    attacker = {"x-forwarded-for": client_address()}
    seen = [codes(await ask(http, ME, {**attacker, "x-api-key": f"guess-{secrets.token_hex(7)}"}))
            for _ in range(FAILURES + 10)]
    assert seen[:FAILURES] == [["UNAUTHENTICATED"]] * FAILURES
    assert seen[FAILURES:] == [["RATE_LIMITED"]] * 10
    throttled(await http.post(gateway_url(), json={"query": ME}, headers={**attacker, "x-api-key": "guess"}))
    # A key that would be right gets the same answer from there: the answer tells no hit from a miss.
    assert codes(await ask(http, ME, {**attacker, **INGEST})) == ["RATE_LIMITED"]
    assert not (await ask(http, PRODUCT, attacker)).get("errors")  # public reads stay open

    storefront = {"x-forwarded-for": client_address()}
    for _ in range(20):
        assert not (await ask(http, PRODUCT, storefront)).get("errors")
    shopper = (await new_customer())["id"]
    signed_in = await ask(http, ME, {**storefront, **customer_token(shopper)})
    assert signed_in["data"]["me"]["id"] == shopper


async def test_forged_tokens_count_as_failures_too(http):
    attacker = {"x-forwarded-for": client_address()}
    forged = [customer_token("c-1", secret=secrets.token_hex(24)) for _ in range(FAILURES + 1)]
    seen = [codes(await ask(http, ME, {**attacker, **token})) for token in forged]
    assert seen[-1] == ["RATE_LIMITED"] and seen[:FAILURES] == [["UNAUTHENTICATED"]] * FAILURES


async def test_expired_sessions_of_a_storefront_are_not_taken_for_guesses(http, new_customer):
    shop = {"x-forwarded-for": client_address()}
    stale = [await ask(http, ME, {**shop, **customer_token(f"c-{i}", ttl=-3600)}) for i in range(FAILURES + 5)]
    assert {tuple(codes(body)) for body in stale} == {("UNAUTHENTICATED",)}
    fresh = (await new_customer())["id"]
    assert (await ask(http, ME, {**shop, **customer_token(fresh)}))["data"]["me"]["id"] == fresh


async def test_redemptions_are_limited_per_customer(http):
    greedy, other = customer_token(unique("c")), customer_token(unique("c"))
    seen = [codes(await ask(http, REDEEM, greedy, variables={"k": unique("k")})) for _ in range(REDEMPTIONS + 1)]
    assert "RATE_LIMITED" not in {c for answer in seen[:REDEMPTIONS] for c in answer}
    assert seen[REDEMPTIONS] == ["RATE_LIMITED"]
    throttled(await http.post(gateway_url(), json={"query": REDEEM, "variables": {"k": unique("k")}}, headers=greedy))
    assert codes(await ask(http, REDEEM, other, variables={"k": unique("k")})) != ["RATE_LIMITED"]


async def test_code_checks_are_limited_per_key(http, edge):
    """On the edge gateway (CODE_CHECKS_PER_MINUTE=20), so that the test need not try 1200 codes."""
    key = {"x-api-key": "authz-ingest-key"}
    seen = [codes(await ask(http, VALIDATE, key, edge.gateway, {"c": secrets.token_hex(8)}))
            for _ in range(edge.code_checks_per_minute + 1)]
    assert seen[:edge.code_checks_per_minute] == [[]] * edge.code_checks_per_minute
    assert seen[-1] == ["RATE_LIMITED"]
    throttled(await http.post(edge.gateway, json={"query": VALIDATE, "variables": {"c": "x"}}, headers=key))
    fuzz_key = {"x-api-key": "fuzz-ingest-key"}  # another key, another budget
    assert codes(await ask(http, VALIDATE, fuzz_key, edge.gateway, {"c": secrets.token_hex(8)})) == []


def start_in_production(**settings: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLYWHEEL_ENV": "production", "GATEWAY_SECRET": secrets.token_urlsafe(32),
           "JWT_SECRET": secrets.token_urlsafe(48), "ADMIN_API_KEY": secrets.token_urlsafe(32),
           "INGEST_API_KEY": secrets.token_urlsafe(32), "API_KEYS": "", **settings}
    return subprocess.run([sys.executable, "-c", "import services.referrals.app"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_api_keys_under_128_bits():
    assert start_in_production().returncode == 0
    for weak in ({"ADMIN_API_KEY": "dev-admin-key"}, {"API_KEYS": "shop-key-2024:ingest:brand"},
                 {"JWT_SECRET": "short"}, {"GATEWAY_SECRET": ""}):
        started = start_in_production(**weak)
        assert started.returncode != 0 and "128 bits" in started.stderr, (weak, started.stderr[-500:])
