"""docs/api.md's error table is what the gateway answers: each row's request, sent under the three
Accept headers the table names, gets that row's code, HTTP status and `data` (partial: a `data` entry;
none: no `data` entry). Every row has a request here, but the two that need a broken subgraph; the two
over-capacity rows get theirs from a gateway and a points instance started with tiny limits."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.gateways import gateway_process, service_process
from tests.stack import ADMIN, INGEST, PUBLIC, GraphQL, customer_token, gateway_url, unique

ACCEPTS = (None, "application/json", "application/graphql-response+json")
# a subgraph must fail, or its database be down (tests/chaos/test_database_unavailable.py)
NOT_TRIGGERED_HERE = {"`INTERNAL_SERVER_ERROR`", "`DOWNSTREAM_SERVICE_ERROR`", "`UNAVAILABLE` (database)"}
OVER_CAPACITY = {"`UNAVAILABLE` (gateway)", "`UNAVAILABLE` (service)"}  # test_over_capacity_rows
TIMED_OUT = {"`GATEWAY_TIMEOUT`"}  # test_timeout_row


@dataclass(frozen=True)
class Row:
    case: str
    code: str
    statuses: tuple[int, int, int]
    data: str


def table() -> dict[str, Row]:
    text = (ROOT / "docs/api.md").read_text()
    section = text[text.index("## Error codes"):text.index("## Limits")]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        case, _meaning, http, data, _retry = [cell.strip() for cell in line.strip("|").split(" | ")]
        statuses = [int(s) for s in http.split(" / ")]
        rows[case] = Row(case, re.match(r"`(\w+)`", case).group(1),
                         tuple(statuses * 3 if len(statuses) == 1 else statuses), data)
    return rows


# The error extensions docs/api.md names (`extensions.code`, `extensions.field`, …); `warnings` is the
# answer's, not an error's. Nothing else may leave the gateway (a subgraph's URL once did: cc6abd7).
DOCUMENTED_EXTENSIONS = set(re.findall(r"extensions\.(\w+)", (ROOT / "docs/api.md").read_text())) - {"warnings"}


def undocumented_extensions(answers: list[dict]) -> list[dict]:
    return [error for answer in answers for error in answer.get("errors", [])
            if not set(error.get("extensions", {})) <= DOCUMENTED_EXTENSIONS]


@dataclass
class Request:
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    content: bytes | None = None
    params: dict[str, str] | None = None


def q(query: str, variables: dict | None = None, headers: dict | None = None) -> Request:
    return Request(json={"query": query, "variables": variables or {}}, headers=headers or {})


def nested(levels: int) -> str:
    query = "id"
    for _ in range(levels):
        query = f"reviews {{ edges {{ node {{ product {{ {query} }} }} }} }}"
    return f'{{ product(id: "p-1") {{ {query} }} }}'


async def send(http: httpx.AsyncClient, request: Request, accept: str | None, url: str | None = None
               ) -> httpx.Response:
    url = url or gateway_url()
    headers = {**request.headers, **({"accept": accept} if accept else {})}
    if request.method == "GET":
        return await http.get(url, params=request.params, headers=headers)
    if request.content is not None:
        return await http.post(url, content=request.content, headers={"content-type": "application/json", **headers})
    return await http.post(url, json=request.json, headers=headers)


async def requests(http: httpx.AsyncClient, gql, new_customer) -> dict[str, Request]:
    """One request per row of the table (the rate-limit rows spend their budget first)."""
    customer = (await new_customer())["id"]
    token = customer_token(customer)
    order = unique("o")
    await gql.ok('mutation($i: OrderInput!) { recordOrder(input: $i) { id } }', {"i": {
        "id": order, "customerId": customer, "currency": "EUR", "total": "10.00", "placedAt": "2026-11-20T10:00:00Z",
        "lines": [{"productId": "p-1", "quantity": 1, "unitPrice": "10.00"}]}}, INGEST)

    greedy = customer_token((await new_customer())["id"])
    redeem = 'mutation($k: String!) { redeemReward(rewardId: "no-such-reward", idempotencyKey: $k) { code } }'
    for _ in range(60):  # REDEMPTIONS_PER_MINUTE of .env.example
        await gql(redeem, {"k": unique("k")}, greedy)
    guesser = {"x-shop": unique("shop"), "x-forwarded-for": f"2001:db8::{secrets.token_hex(2)}"}
    landing = "query($c: String!) { referralLanding(code: $c) { code } }"
    for i in range(20):  # the referrals service's unknown codes per address and minute
        await gql(landing, {"c": f"GUESS{i:03d}"}, guesser)

    return {
        "`UNAUTHENTICATED` (needs a credential)": q("{ tiers { name } me { id } }", headers=PUBLIC),
        "`UNAUTHENTICATED` (wrong credential)": q("{ tiers { name } }", headers={"x-api-key": "not-a-key"}),
        "`FORBIDDEN`": q('{ customer(id: "someone") { id } }', headers=token),
        "`BAD_USER_INPUT` (argument)": q("{ me { pointsHistory(first: 1000) { edges { cursor } } } }", headers=token),
        "`BAD_USER_INPUT` (shop)": q("{ tiers { name } }", headers={"x-shop": "not a shop!"}),
        "`BAD_USER_INPUT` (variables)": q("query($n: Int) { me { pointsHistory(first: $n) { edges { cursor } } } }",
                                          {"n": "many"}, token),
        "`BAD_USER_INPUT` (depth)": q(nested(4), headers=PUBLIC),
        "`BAD_USER_INPUT` (body size)": Request(content=json.dumps(
            {"query": "{ tiers { name } }", "padding": "x" * 2_000_001}).encode()),
        "`BAD_USER_INPUT` (media type)": Request(content=b'{"query": "{ tiers { name } }"}',
                                                 headers={"content-type": "text/plain"}),
        "`GRAPHQL_PARSE_FAILED`": q("{ tiers { name ", headers=PUBLIC),
        "`GRAPHQL_VALIDATION_FAILED`": q("{ tierz { name } }", headers=PUBLIC),
        "`BAD_REQUEST`": Request(method="GET", params={"query": 'mutation { joinChallenge(id: "x") { progress } }'}),
        "`NOT_FOUND`": q("{ me { id } }", headers=customer_token(unique("never-sent"))),
        "`CONFLICT`": q('mutation($id: ID!) { updateOrderStatus(id: $id, status: DELIVERED) { id } }', {"id": order},
                        INGEST),
        "`INSUFFICIENT_POINTS`": q('mutation($k: String!) { redeemReward(rewardId: "r-5-off", idempotencyKey: $k) '
                                   '{ code } }', {"k": unique("k")}, token),
        "`RATE_LIMITED` (gateway)": q(redeem, {"k": unique("k")}, greedy),
        "`RATE_LIMITED` (unknown referral codes)": q(landing, {"c": "GUESS999"}, guesser),
        "`PERSISTED_QUERY_NOT_IN_LIST`": Request(json={"extensions": {"persistedQuery": {
            "version": 1, "sha256Hash": "0" * 64}}}),
        "`PERSISTED_QUERY_ID_REQUIRED`": Request(json={"variables": {}}),
    }


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return table()


def test_the_table_names_every_code_the_services_raise(rows):
    raised = set(re.findall(r'code = "(\w+)"', (ROOT / "shared/errors.py").read_text()))
    gateway = {code for name in ("callers.ts", "protections.ts", "overload.ts")
               for code in re.findall(r"code: '(\w+)'", (ROOT / "gateway" / name).read_text())}
    assert raised | (gateway - {"TOKEN_EXPIRED"}) <= {row.code for row in rows.values()}


async def each_row(http, gql, new_customer, rows, url: str | None = None) -> None:
    if (ROOT / ".env").exists() and "PERSISTED_OPERATIONS=only" in (ROOT / ".env").read_text():
        pytest.skip("the table's requests send documents; this stack runs registered operations only")
    cases = await requests(http, gql, new_customer)
    assert cases.keys() | NOT_TRIGGERED_HERE | OVER_CAPACITY | TIMED_OUT == rows.keys()
    seen = {}
    for case, request in cases.items():
        answers = [await send(http, request, accept, url) for accept in ACCEPTS]
        bodies = [a.json() for a in answers]
        assert not undocumented_extensions(bodies), case
        seen[case] = (tuple(a.status_code for a in answers),
                      {"partial" if "data" in b else "none" for b in bodies},
                      {tuple(e["extensions"]["code"] for e in b["errors"]) for b in bodies})
    expected = {case: (rows[case].statuses, {rows[case].data}, {(rows[case].code,)}) for case in cases}
    assert seen == expected


async def test_each_row_is_what_the_gateway_answers(http, gql, new_customer, rows):
    """The stack's gateway: Hive Router's runtime (GATEWAY_RUNTIME's default), its error shaping putting
    back what the router leaves out (gateway/protections.ts)."""
    await each_row(http, gql, new_customer, rows)


async def test_each_row_is_the_same_under_the_stitching_runtime(http, new_customer, rows):
    """A gateway on Hive Gateway's own stitching runtime (GATEWAY_RUNTIME=stitching, the one to fall back
    on) answers the table too; its rate limits are its own, so the rows that need them spent spend them
    through it."""
    with gateway_process("error-table-stitching", GATEWAY_RUNTIME="stitching") as url:
        await each_row(http, GraphQL(http, url), new_customer, rows, url)


async def test_over_capacity_rows(http, rows):
    """A gateway with one write slot and no time to wait refuses a burst of mutations itself (503, no
    data); in front of a points instance that takes one request at a time, a burst of reads (it has
    read slots to spare) meets the service's refusal (503, data). Each under the three headers."""
    mutation = q("""mutation($cart: CartInput!) { checkCode(code: "NO-SUCH-CODE", cart: $cart) { valid } }""",
                 {"cart": {"currency": "EUR", "subtotal": "30.00", "customerId": unique("c")}}, INGEST)
    read = q("{ tiers { name } rewardsCatalog { id } badgeCatalog { name } }", headers=ADMIN)
    with service_process("points-error-table", "points", SUBGRAPH_MAX_CONCURRENT="1") as points, \
            gateway_process("error-table", POINTS_URL=f"{points}/graphql", GATEWAY_MAX_WRITES="1",
                            GATEWAY_QUEUED_WRITES="1", GATEWAY_WRITE_WAIT_MS="1", GATEWAY_MAX_READS="64",
                            GATEWAY_QUEUED_READS="64") as url:
        async def burst(request: Request, accept: str | None, refused_by_gateway: bool) -> httpx.Response:
            headers = {**request.headers, **({"accept": accept} if accept else {})}
            for _ in range(20):
                answers = await asyncio.gather(*(http.post(url, json=request.json, headers=headers)
                                                 for _ in range(24)))
                for answer in answers:
                    body = answer.json()
                    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
                    if "UNAVAILABLE" in codes and ("data" not in body) == refused_by_gateway:
                        return answer
            raise AssertionError(f"no UNAVAILABLE ({'gateway' if refused_by_gateway else 'service'}) under {accept}")

        for case, request, by_gateway in (("`UNAVAILABLE` (gateway)", mutation, True),
                                          ("`UNAVAILABLE` (service)", read, False)):
            answers = [await burst(request, accept, by_gateway) for accept in ACCEPTS]
            assert tuple(a.status_code for a in answers) == rows[case].statuses, case
            assert {"partial" if "data" in a.json() else "none" for a in answers} == {rows[case].data}, case
            assert all(a.headers.get("retry-after") == "1" for a in answers), case


@pytest.mark.parametrize("runtime", ["router", "stitching"])
async def test_timeout_row(http, rows, runtime):
    """A gateway that gives a storefront's read 1 ms per subgraph call (GATEWAY_READ_TIMEOUT_MS): an
    anonymous read of the tiers times out at points, under each of the three headers and under either
    runtime (the router once passed the timeout on without its path, and so without `data`)."""
    (case,) = TIMED_OUT
    with gateway_process(f"error-table-timeout-{runtime}", GATEWAY_READ_TIMEOUT_MS="1",
                         GATEWAY_RUNTIME=runtime) as url:
        answers = []
        for accept in ACCEPTS:
            headers = {**PUBLIC, **({"accept": accept} if accept else {})}
            answers.append(await http.post(url, json={"query": "{ tiers { name } }"}, headers=headers))
    assert tuple(a.status_code for a in answers) == rows[case].statuses
    assert {"partial" if "data" in a.json() else "none" for a in answers} == {rows[case].data}
    assert {tuple(e["extensions"]["code"] for e in a.json()["errors"]) for a in answers} == {(rows[case].code,)}
    assert not undocumented_extensions([a.json() for a in answers])
