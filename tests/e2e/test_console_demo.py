"""`make demo` seeds a shop through the public API, and running it again changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt

from tests.conftest import ROOT
from tests.stack import DEFAULT_SHOP, customer_token, unique

ME = """{ me { firstName loyalty { balance pending } redemptions { id }
          challengeProgress { challenge { title } } }
        rewardsCatalog { id } }"""


def seed(shop: str, *, ok: bool = True) -> str:
    result = subprocess.run([sys.executable, "-m", "console.demo_seed"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "DEMO_SHOP": shop}, timeout=120)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result.stdout + result.stderr


async def test_demo_seed_makes_a_shop_to_show_and_is_idempotent(stack, gql):
    shop = unique("demo")
    out = seed(shop)
    admin_token = out.strip().splitlines()[-1].strip()
    assert jwt.decode(admin_token, os.environ["JWT_SECRET"], algorithms=["HS256"])["roles"] == ["admin"]
    first = await gql.ok(ME, headers=customer_token("demo-anna", shop=shop))
    seed(shop)
    again = await gql.ok(ME, headers=customer_token("demo-anna", shop=shop))
    assert first == again
    me = again["me"]
    assert me["firstName"] == "Anna" and me["loyalty"]["balance"] == 250
    assert me["loyalty"]["pending"] > 0  # the paid mug order, inside its return window
    assert [p["challenge"]["title"] for p in me["challengeProgress"]] == ["Winter reviews"]
    assert {"demo-5-off", "demo-free-shipping"} <= {r["id"] for r in again["rewardsCatalog"]}


def test_the_demo_never_seeds_the_default_shop(stack):
    assert "the default shop" in seed(DEFAULT_SHOP, ok=False)


async def test_demo_token_is_for_the_demo_customer_only(stack, http):
    response = await http.post(f"http://127.0.0.1:{os.environ.get('CONSOLE_PORT', '4100')}/demo/token")
    body = response.json()
    claims = jwt.decode(body["token"], os.environ["JWT_SECRET"], algorithms=["HS256"])
    assert (claims["sub"], claims["shop"]) == (body["customerId"], body["shop"]) == ("demo-anna", "demo")
    assert "roles" not in claims
