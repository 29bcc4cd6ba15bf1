"""Finding 1: per-address limits keyed on an address the client cannot choose. The gateway takes the
client address from X-Forwarded-For only through the trusted proxies (TRUSTED_PROXIES; development
trusts loopback, so these tests stand where an ingress would), the rightmost untrusted entry, and
hands it to the subgraphs; the referral landing's two limits (LANDING_LIMIT_PER_MINUTE lookups at
the gateway, 20 unknown codes in the referrals service) both count that address, once per lookup."""

from __future__ import annotations

import os

from tests.security.conftest import client_address
from tests.stack import ADMIN, PUBLIC, codes, unique

LANDING = "query($c: String!) { referralLanding(code: $c) { code } }"
PER_MINUTE = int(os.environ.get("LANDING_LIMIT_PER_MINUTE", "60"))


async def referral_code(gql, new_customer) -> str:
    customer = await new_customer()
    return (await gql.ok("query($id: ID!) { customer(id: $id) { referralCode } }", {"id": customer["id"]},
                         ADMIN))["customer"]["referralCode"]


def spoofed(i: int, real: str) -> dict[str, str]:
    """What arrives when a client writes an address of its choice and the proxy appends the one it saw."""
    return {"x-forwarded-for": f"203.0.113.{i % 250 + 1}, {real}", **PUBLIC}


async def test_an_address_written_by_the_client_gets_no_fresh_budget_and_a_lookup_counts_once(gql, new_customer):
    code = await referral_code(gql, new_customer)
    real = client_address()
    answers = [await gql(LANDING, {"c": code}, spoofed(i, real)) for i in range(PER_MINUTE + 1)]
    assert [codes(a) for a in answers[:PER_MINUTE]] == [[]] * PER_MINUTE
    assert codes(answers[PER_MINUTE]) == ["RATE_LIMITED"]
    assert not (await gql(LANDING, {"c": code}, spoofed(0, client_address()))).get("errors")


async def test_unknown_codes_count_against_the_address_the_proxy_saw(gql):
    shop = {"x-shop": unique("shop")}
    real = client_address()
    seen = [codes(await gql(LANDING, {"c": f"GUESS{i:03d}"}, {**shop, **spoofed(i, real)}))[0] for i in range(21)]
    assert seen == ["NOT_FOUND"] * 20 + ["RATE_LIMITED"]
    other = {**shop, **spoofed(0, client_address())}
    assert codes(await gql(LANDING, {"c": "GUESS999"}, other)) == ["NOT_FOUND"]


async def test_without_a_trusted_proxy_in_front_forwarded_for_is_ignored(http, edge, gql, new_customer):
    """The edge gateway trusts 10.0.0.0/8 only; this test connects from loopback, so every lookup is
    the socket's, whatever X-Forwarded-For says."""
    code = await referral_code(gql, new_customer)
    answers = []
    for _ in range(PER_MINUTE + 1):
        response = await http.post(edge.gateway, json={"query": LANDING, "variables": {"c": code}},
                                   headers={"x-forwarded-for": client_address(), **PUBLIC})
        answers.append(codes(response.json()))
    assert answers[:PER_MINUTE] == [[]] * PER_MINUTE and answers[PER_MINUTE] == ["RATE_LIMITED"]
