"""`make demo`: seed the demo storefront's shop through the public GraphQL API.

A sample coffee shop (shop id DEMO_SHOP, default "demo"): three customers, paid and delivered
orders, a voucher reward, a welcome bonus and an active challenge. Every id is fixed, so running it
again changes nothing. It never writes into the default shop (DEFAULT_SHOP), the one the README's
quickstart uses: a DEMO_SHOP naming it is refused. The admin credential is an admin JWT for that
shop signed with JWT_SECRET (the same way any back office of that shop would hold one); the customer
token that joins the challenge is the demo customer's.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt

SHOP = os.environ.get("DEMO_SHOP", "demo")
CUSTOMER = os.environ.get("DEMO_CUSTOMER_ID", "demo-anna")
GATEWAY = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '4000')}/graphql"
CONSOLE = f"http://localhost:{os.environ.get('CONSOLE_PORT', '4100')}"


def token(sub: str, **claims) -> str:
    return jwt.encode({"sub": sub, "shop": SHOP, "exp": int(time.time()) + 600, **claims},
                      os.environ["JWT_SECRET"], algorithm="HS256")


ADMIN = {"authorization": f"Bearer {token('demo-admin', roles=['admin'])}"}


def gql(client: httpx.Client, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
    body = client.post(GATEWAY, json={"query": query, "variables": variables or {}}, headers=headers or ADMIN).json()
    if body.get("errors"):
        sys.exit(f"demo seed failed: {body['errors'][0].get('message')} ({query.split('(')[0].strip()})")
    return body["data"]


PEOPLE = [(CUSTOMER, "Anna", "de"), ("demo-ben", "Ben", "en"), ("demo-clara", "Clara", "de")]
ORDERS = [  # id, customer, product, quantity, unit price, final status
    ("demo-o-1", CUSTOMER, "espresso-blend", 2, "12.90", "DELIVERED"),
    ("demo-o-2", CUSTOMER, "ceramic-mug", 1, "25.00", "PAID"),
    ("demo-o-3", "demo-ben", "hand-grinder", 1, "59.00", "PAID"),
    ("demo-o-4", "demo-clara", "filter-roast", 3, "19.50", "DELIVERED"),
]


def main() -> None:
    if SHOP == os.environ.get("DEFAULT_SHOP", "default"):
        sys.exit(f"DEMO_SHOP is {SHOP!r}, the default shop: the demo seeds a shop of its own (default: demo)")
    with httpx.Client(timeout=30) as client:
        for cid, name, locale in PEOPLE:
            gql(client, "mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }",
                {"i": {"id": cid, "email": f"{cid}@kaffee.example", "firstName": name, "locale": locale,
                       "acceptsEmail": True}})
        placed = (datetime.now(UTC) - timedelta(days=20)).isoformat()
        for oid, cid, product, qty, price, status in ORDERS:
            total = f"{int(qty) * float(price):.2f}"
            gql(client, "mutation($i: OrderInput!) { recordOrder(input: $i) { id } }",
                {"i": {"id": oid, "customerId": cid, "currency": "EUR", "total": total, "placedAt": placed,
                       "lines": [{"productId": product, "quantity": qty, "unitPrice": price}]}})
            steps = ["PAID"] if status == "PAID" else ["PAID", "SHIPPED", "DELIVERED"]
            current = gql(client, "query($id: ID!) { customer(id: $id) { orders { edges { node { id status } } } } }",
                          {"id": cid})["customer"]["orders"]["edges"]
            now_at = next((e["node"]["status"] for e in current if e["node"]["id"] == oid), "PLACED")
            if now_at in steps:  # a second run: move only forward from where the order already is
                steps = steps[steps.index(now_at) + 1:]
            for step in steps:
                gql(client, "mutation($id: ID!, $s: OrderStatus!) { updateOrderStatus(id: $id, status: $s) { id } }",
                    {"id": oid, "s": step})
        gql(client, "mutation($i: RewardInput!) { upsertReward(input: $i) { id } }",
            {"i": {"id": "demo-5-off", "name": "5 € Gutschein / voucher", "kind": "FIXED_AMOUNT",
                   "pointsCost": 100, "value": "5.00", "active": True}})
        gql(client, "mutation($i: RewardInput!) { upsertReward(input: $i) { id } }",
            {"i": {"id": "demo-free-shipping", "name": "Free shipping", "kind": "FREE_SHIPPING",
                   "pointsCost": 60, "active": True}})
        gql(client, """mutation($c: ID!) { adjustPoints(customerId: $c, delta: 250, reason: "Welcome to the demo",
                       idempotencyKey: "demo-welcome") { balance } }""", {"c": CUSTOMER})
        now = datetime.now(UTC)
        running = [c for c in gql(client, "{ challenges(status: ACTIVE) { id title } }")["challenges"]
                   if c["title"] == "Winter reviews"]
        challenge = running[0] if running else gql(
            client, "mutation($i: ChallengeInput!) { launchChallenge(input: $i) { id } }",
            {"i": {"title": "Winter reviews", "description": "Review two coffees this month",
                   "goal": {"event": "REVIEW_PUBLISHED", "count": 2}, "rewardPoints": 150,
                   "startsAt": (now - timedelta(minutes=1)).isoformat(),
                   "endsAt": (now + timedelta(days=30)).isoformat(),
                   "idempotencyKey": f"demo-challenge-{now:%Y%m%d%H%M%S}"}})["launchChallenge"]
        gql(client, "mutation($id: ID!) { joinChallenge(id: $id) { progress } }", {"id": challenge["id"]},
            {"authorization": f"Bearer {token(CUSTOMER)}"})
    admin_token = token("demo-admin", roles=["admin"], exp=int(time.time()) + 12 * 3600)
    print(f"demo shop '{SHOP}' seeded.\n  storefront: {CONSOLE}/demo\n  console:    {CONSOLE}/  sign in with this"
          f" admin token of shop '{SHOP}' (valid 12 h; dev secret only):\n  {admin_token}")


if __name__ == "__main__":
    main()
