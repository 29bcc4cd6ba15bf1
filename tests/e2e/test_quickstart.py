"""The README's storefront quickstart runs as written: its bash blocks, taken from README.md in their
order, run in one bash process against the stack. Only the first block (the dev credentials of the
default shop) is swapped for a fresh shop's: the suite never writes into `default`; that the first
block names the dev defaults of .env.example is checked here too. Every answer must be free of errors
and say what the README says; a second run changes nothing (the code check answers the same)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import jwt
import pytest

from tests.conftest import ROOT
from tests.stack import gateway_url, new_shop
from tests.support import eventually

README = ROOT / "README.md"
END = "@@quickstart-block-end@@"


def blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("\n## Storefront quickstart\n"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
             if line and not line.startswith("#") and "=" in line)
    return {key: value for key, value in pairs}


def test_the_first_block_names_the_dev_defaults_of_env_example():
    settings = blocks()[0]
    example = env_example()
    assert f"GQL=http://localhost:{example['GATEWAY_PORT']}/graphql\n" in settings
    assert f"INGEST='x-api-key: {example['INGEST_API_KEY']}'\n" in settings
    assert f"ADMIN='x-api-key: {example['ADMIN_API_KEY']}'\n" in settings
    assert f"export SHOP={example['DEFAULT_SHOP']} JWT_SECRET={example['JWT_SECRET']}\n" in settings


def test_the_token_examples_are_the_ones_docs_auth_md_shows():
    auth = (ROOT / "docs/auth.md").read_text()
    minted = [b for b in blocks() if b.startswith("TOKEN=$(")]
    assert len(minted) == 2  # Python and Node
    for block in minted:
        code = re.search(r"<<'EOF'\n(.*?)EOF\n", block, re.S).group(1)
        assert code in auth, code


def run(shop: str, admin: dict[str, str]) -> tuple[list[str], list[str]]:
    """The quickstart's blocks after the first, in one bash process: what each block printed, and
    $TOKEN after each."""
    settings = (f"GQL={gateway_url()}\nINGEST='authorization: {admin['authorization']}'\n"
                f"ADMIN='authorization: {admin['authorization']}'\n"
                f"export SHOP={shop} JWT_SECRET={os.environ['JWT_SECRET']}\n")
    script = "set -euo pipefail\n" + settings + "".join(
        f"{block}\nprintf '\\n@@end TOKEN=%s@@\\n' \"${{TOKEN:-}}\"\n" for block in blocks()[1:])
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    parts = re.split(r"\n@@end TOKEN=(\S*)@@\n", result.stdout)
    assert len(parts) == 2 * len(blocks()) - 1 and parts[-1] == "", result.stdout[-2000:]
    return parts[0::2][:-1], parts[1::2]


def by_field(outputs: list[str]) -> dict[str, list]:
    """What the blocks' answers hold, by root field; none may carry an error."""
    seen: dict[str, list] = {}
    decoder = json.JSONDecoder()
    for text in outputs:
        at = 0
        while (start := text.find("{", at)) >= 0:  # curl prints its answers back to back
            document, at = decoder.raw_decode(text, start)
            assert not document.get("errors"), document
            for name, value in document["data"].items():
                seen.setdefault(name, []).append(value)
    return seen


async def test_the_quickstart_gets_from_nothing_to_a_checked_code(stack, gql):
    shop, admin = new_shop()
    outputs, tokens = run(shop, admin)
    seen = by_field(outputs)

    assert seen["upsertCustomer"] == [{"id": "c-1"}]
    minted = {t for t in tokens if t}
    assert len(minted) == 2  # one from Python, one from Node
    for token in minted:
        claims = jwt.decode(token, os.environ["JWT_SECRET"], algorithms=["HS256"])
        assert (claims["sub"], claims["shop"]) == ("c-1", shop)
        assert 14 * 60 < claims["exp"] - time.time() <= 15 * 60
    before = seen["me"][0]
    assert before["firstName"] == "Anna" and before["loyalty"]["balance"] == 0 and before["referralLink"]
    assert {"r-5-off", "r-free-shipping", "r-5-credit"} <= {r["id"] for r in seen["rewardsCatalog"][0]}
    assert seen["recordOrder"] == [{"id": "o-1", "status": "PLACED"}]
    assert seen["updateOrderStatus"] == [{"id": "o-1", "status": "PAID"}]
    assert seen["adjustPoints"][0]["balance"] == 1000
    assert seen["upsertReward"] == [{"id": "r-welcome", "pointsCost": 500, "value": {"amount": "5.00",
                                                                                    "currency": "EUR"}}]
    redeemed = seen["redeemReward"][0]
    assert redeemed["pointsSpent"] == 500 and len(redeemed["code"]) == 16
    checked = [{"valid": True, "reason": None, "discount": {"amount": "5.00", "currency": "EUR"}}]
    assert seen["checkCode"] == checked
    customer = seen["customer"][0]
    assert customer["loyalty"]["balance"] == 500 and customer["email"] == "anna@example.com"
    assert [r["code"] for r in customer["redemptions"]] == [redeemed["code"]]
    assert customer["redemptions"][0]["usedAt"] is None  # a check uses nothing up

    # the paid order's 45 pending points arrive through the events
    token = {"authorization": f"Bearer {sorted(minted)[0]}"}

    async def pending() -> bool:
        return (await gql.ok("{ me { loyalty { pending } } }", headers=token))["me"]["loyalty"]["pending"] == 45
    await eventually(pending, what="the paid order's 45 pending points")

    # as the README says: running it all again changes nothing, and the check answers the same
    again = by_field(run(shop, admin)[0])
    assert again["redeemReward"][0]["code"] == redeemed["code"]
    assert again["adjustPoints"][0]["balance"] == 500
    assert again["checkCode"] == checked


@pytest.mark.parametrize("needle", ["export SHOP=default", "dev-ingest-key", "dev-admin-key"])
def test_only_the_first_block_names_the_default_shop_or_its_keys(needle):
    assert [needle in block for block in blocks()].count(True) == 1 and needle in blocks()[0]
