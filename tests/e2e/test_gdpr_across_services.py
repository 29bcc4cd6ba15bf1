"""GDPR across every service: the export gathers what each one holds, and after `eraseCustomer`
no service database holds the person's email or name any more (ledger sums and anonymous counts
stay)."""

from __future__ import annotations

import secrets

from tests.e2e.conftest import UPSERT
from tests.e2e.reviews_support import buy, publish, submit
from tests.stack import ADMIN, INGEST, SERVICES, db, unique
from tests.support import eventually

EXPORT = """query($id: ID!) { exportCustomerData(id: $id) {
  customerId customers points referrals reviews notifications } }"""


async def holding(service: str, *needles: str) -> list[str]:
    """Tables of a service database whose rows mention any needle (whole rows cast to text)."""
    conn = await db(service)
    try:
        tables = await conn.fetch(
            """SELECT t.table_name, EXISTS (SELECT 1 FROM information_schema.columns c
                                           WHERE c.table_schema = 'public' AND c.table_name = t.table_name
                                             AND c.column_name = 'shop_id') AS has_shop
               FROM information_schema.tables t WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'""")
        found = []
        for t in tables:
            table = t["table_name"]
            # `make bench` leaves millions of synthetic rows in its scale shops (tests/bench/scale.py);
            # skipping them keeps this search fast on a developer's machine and they hold no person.
            skip_bench = "t.shop_id NOT LIKE 'bench-scale-%' AND " if t["has_shop"] else ""
            for needle in needles:
                if await conn.fetchval(f'SELECT count(*) FROM "{table}" t WHERE {skip_bench}t::text ILIKE $1',
                                       f"%{needle}%"):
                    found.append(f"{service}.{table}")
        return found
    finally:
        await conn.close()


async def test_export_then_erase_leaves_no_trace_of_the_person_anywhere(gql, new_customer):
    tag = secrets.token_hex(4)
    email, name = f"gdpr-{tag}@example.com", f"Zelda{tag}"
    referrer = await new_customer()
    code = (await gql.ok("query($id: ID!) { customer(id: $id) { referralCode } }", {"id": referrer["id"]},
                         ADMIN))["customer"]["referralCode"]
    person = unique("c")
    await gql.ok(UPSERT, {"input": {"id": person, "email": email, "firstName": name, "lastName": f"Doe{tag}",
                                    "referralCode": code, "deviceId": f"device-{tag}"}}, INGEST)
    product = unique("p")
    await buy(gql, person, [product], deliver=True)
    review = await submit(gql, person, product)
    await publish(gql, review["id"])

    async def everyone_knows():
        data = (await gql.ok(EXPORT, {"id": person}, ADMIN))["exportCustomerData"]
        return all(data[s] for s in SERVICES) and data
    export = await eventually(everyone_knows, what="every service to hold something about the person")
    assert export["customers"]["profile"]["email"] == email
    assert export["notifications"]["contacts"][0]["email"] == email
    assert export["referrals"]["referrals"][0]["friend_id"] == person
    assert export["reviews"]["reviews"][0]["id"] == review["id"]
    assert export["points"]["accounts"][0]["customer_id"] == person
    before = [t for s in SERVICES for t in await holding(s, email, name)]
    assert before, "the search must find the person before erasure, or it proves nothing"

    assert (await gql.ok("mutation($id: ID!) { eraseCustomer(id: $id) }", {"id": person}, ADMIN))["eraseCustomer"]

    async def forgotten():
        left = [t for s in SERVICES for t in await holding(s, email, name, f"Doe{tag}")]
        return (not left) or None
    await eventually(forgotten, timeout=60, what="no database to mention the person")
