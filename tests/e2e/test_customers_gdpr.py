"""GDPR erase and export, and the birthday greeting, through the gateway in shops of their own."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tests.e2e.customers_support import customer, customers_value, days_ago, order
from tests.stack import INGEST, codes, customer_token, db, new_shop, unique
from tests.support import eventually

ERASE = "mutation($id: ID!) { eraseCustomer(id: $id) }"
PENDING_BIRTHDAY = """SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND kind = 'customer.birthday'
                        AND status = 'pending'"""
EXPORT = "query($id: ID!) { exportCustomerData(id: $id) { customerId customers } }"


async def customers_db_text_containing(shop: str, needle: str) -> list[str]:
    """Every table of the customers database, every row of the shop (all rows where a table has no
    shop) as text: where does the needle still occur?"""
    conn = await db("customers")
    try:
        tables = await conn.fetch(
            """SELECT t.tablename, EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public'
                   AND c.table_name = t.tablename AND c.column_name = 'shop_id') AS per_shop
               FROM pg_tables t WHERE t.schemaname = 'public'""")
        found = []
        for t in tables:
            where = "x.shop_id = $2 AND" if t["per_shop"] else "$2::text IS NOT NULL AND"
            hits = await conn.fetchval(
                f'SELECT count(*) FROM "{t["tablename"]}" x '
                f'WHERE {where} strpos(lower(row_to_json(x)::text), lower($1)) > 0', needle, shop)
            if hits:
                found.append(t["tablename"])
        return found
    finally:
        await conn.close()


async def test_erase_forgets_the_person_and_keeps_anonymous_aggregates(gql):
    shop, admin = new_shop()
    name = unique("Zelda")
    email = f"{unique('zelda')}@example.com"
    phone = "+49151" + str(uuid.uuid4().int)[:8]
    fingerprint = unique("pf")
    person = await customer(gql, admin, email=email, firstName=name, lastName="Quux-" + name, phone=phone,
                            birthday="1990-04-02", timezone="Europe/Berlin", deviceId=unique("dev"))
    await order(gql, admin, person, days_ago(3), shippingAddressHash=unique("addr"), paymentFingerprint=fingerprint)
    await gql.ok("mutation($i: EngagementInput!) { recordEngagement(input: $i) }",
                 {"i": {"customerId": person, "kind": "SITE_VISIT"}}, admin)
    for needle in (email, name, phone, fingerprint):
        assert await customers_db_text_containing(shop, needle), needle  # the probe finds what is there

    assert await customers_value(PENDING_BIRTHDAY, shop) == 1
    assert codes(await gql(ERASE, {"id": person}, INGEST)) == ["FORBIDDEN"]
    assert codes(await gql(ERASE, {"id": person}, customer_token(person, shop=shop))) == ["FORBIDDEN"]
    assert codes(await gql(ERASE, {"id": unique("nobody")}, admin)) == ["NOT_FOUND"]
    assert (await gql.ok(ERASE, {"id": person}, admin))["eraseCustomer"] is True

    # wait for the relay to publish customer.erased, then look everywhere in the database
    await eventually(lambda: customers_value(
        """SELECT published_at IS NOT NULL FROM outbox WHERE shop_id = $1 AND type = 'customer.erased'
             AND envelope->'data'->>'customer_id' = $2""", shop, person), what="customer.erased published")
    for needle in (email, name, phone, fingerprint):
        assert await customers_db_text_containing(shop, needle) == [], needle

    assert await customers_value(PENDING_BIRTHDAY, shop) == 0  # no greeting for a forgotten person
    assert (await gql.ok(ERASE, {"id": person}, admin))["eraseCustomer"] is True  # again: harmless
    erased_events = "SELECT count(*) FROM outbox WHERE shop_id = $1 AND type = 'customer.erased'"
    assert await customers_value(erased_events, shop) == 1

    profile = (await gql.ok("""query($id: ID!) { customer(id: $id) { id email firstName birthday
        stats { ordersCount totalSpent { amount } } } }""", {"id": person}, admin))["customer"]
    assert profile == {"id": person, "email": None, "firstName": None, "birthday": None,
                       "stats": {"ordersCount": 1, "totalSpent": {"amount": "100.00"}}}
    metrics = await gql.ok("query($f: DateTime!, $t: DateTime!) { retentionMetrics(from: $f, to: $t) { orders } }",
                           {"f": days_ago(10), "t": days_ago(0)}, admin)
    assert metrics["retentionMetrics"]["orders"] == 1  # the anonymous order still counts
    counts = await gql.ok("{ segmentCounts { segment count } }", headers=admin)
    assert sum(c["count"] for c in counts["segmentCounts"]) == 0  # an erased person is in no segment

    engaged = await gql.ok("mutation($i: EngagementInput!) { recordEngagement(input: $i) }",
                           {"i": {"customerId": person, "kind": "SITE_VISIT"}}, admin)
    assert engaged["recordEngagement"] is False  # nothing new is recorded about a forgotten person
    assert await customers_value("SELECT count(*) FROM engagements WHERE shop_id = $1", shop) == 1
    again = await gql("""mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }""",
                      {"i": {"id": person, "email": email}}, admin)
    assert codes(again) == ["CONFLICT"]  # a replayed profile cannot bring the person back
    assert await customers_db_text_containing(shop, email) == []


async def test_export_returns_what_customers_holds_about_the_person(gql):
    shop, admin = new_shop()
    person = await customer(gql, admin, email="Export.Me@Example.com", firstName="Ex", phone="0049 151 1234 5678")
    paid = await order(gql, admin, person, days_ago(2))
    await gql.ok("mutation($i: EngagementInput!) { recordEngagement(input: $i) }",
                 {"i": {"customerId": person, "kind": "EMAIL_CLICK"}}, admin)
    data = (await gql.ok(EXPORT, {"id": person}, admin))["exportCustomerData"]
    assert data["customerId"] == person
    held = data["customers"]
    assert held["profile"]["email"] == "export.me@example.com" and held["profile"]["phone"] == "+4915112345678"
    assert held["profile"]["segment"] == "NEW"
    assert [o["id"] for o in held["orders"]] == [paid]
    assert held["orders"][0]["status"] == "PAID"
    assert held["orders"][0]["lines"] == [{"product_id": "p-1", "quantity": 1, "unit_price": "100.0000"}]
    assert [e["kind"] for e in held["engagement"]] == ["EMAIL_CLICK"]
    assert "shop_id" not in held["profile"]

    assert codes(await gql(EXPORT, {"id": unique("nobody")}, admin)) == ["NOT_FOUND"]
    assert codes(await gql(EXPORT, {"id": person}, customer_token(person, shop=shop))) == ["FORBIDDEN"]
    assert codes(await gql(EXPORT, {"id": person}, INGEST)) == ["FORBIDDEN"]
    _, other_admin = new_shop()
    assert codes(await gql(EXPORT, {"id": person}, other_admin)) == ["NOT_FOUND"]  # another shop's person


def zone_past_its_morning(now: datetime) -> tuple[str, date]:
    """A time zone where it is now between 10:00 and 22:59 (its birthday greetings of today are
    due), and its date: whatever the hour in UTC, one of these three zones is there."""
    for zone in ("UTC", "Asia/Tokyo", "Pacific/Kiritimati"):  # UTC+0, +9, +14
        local = now.astimezone(ZoneInfo(zone))
        if 10 <= local.hour <= 22:
            return zone, local.date()
    raise AssertionError(f"no zone past its morning at {now}")


async def test_birthday_greeting_goes_out_on_the_day_once_per_year(gql):
    # Born today in a zone whose 09:00 has passed: greeted at once. (With UTC alone the test failed
    # from 00:00 to 09:00 UTC, when the greeting is rightly planned for 09:00.)
    shop, admin = new_shop()
    zone, today = zone_past_its_morning(datetime.now(UTC))
    born = date(1990, today.month, 28 if (today.month, today.day) == (2, 29) else today.day)
    person = await customer(gql, admin, birthday=born.isoformat(), timezone=zone)
    greeted = """SELECT envelope->'data'->>'year' FROM outbox WHERE shop_id = $1 AND type = 'customer.birthday'
                   AND envelope->'data'->>'customer_id' = $2"""
    year = await eventually(lambda: customers_value(greeted, shop, person), what="the birthday greeting")
    assert year == str(today.year)
    next_due = (await customers_value(
        """SELECT due_at FROM scheduled_jobs WHERE shop_id = $1 AND kind = 'customer.birthday'
             AND status = 'pending' AND payload->>'customer_id' = $2""", shop, person)).astimezone(ZoneInfo(zone))
    assert next_due.year == today.year + 1 and next_due.hour == 9

    # the same profile again changes nothing; another birthday replaces the pending greeting
    await customer(gql, admin, id=person, birthday=born.isoformat(), timezone="UTC")
    await customer(gql, admin, id=person, birthday="1990-01-01" if today.month != 1 else "1990-06-01",
                   timezone="Europe/Berlin")
    pending = await customers_value(
        """SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND kind = 'customer.birthday'
             AND status = 'pending' AND payload->>'customer_id' = $2""", shop, person)
    assert pending == 1
    assert await customers_value("SELECT count(*) FROM outbox WHERE shop_id = $1 AND type = 'customer.birthday'",
                                 shop) == 1
    nobody = await customer(gql, admin)
    assert await customers_value(
        "SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND payload->>'customer_id' = $2", shop, nobody) == 0
    daily = "SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND kind = 'customers.daily' AND status = 'pending'"
    assert await customers_value(daily, shop) == 1  # one daily pass per shop, however many customers


async def test_the_export_and_insight_entities_are_guarded_in_the_subgraph_itself(gql):
    from tests.stack import subgraph_url

    shop, admin = new_shop()
    person = await customer(gql, admin)
    other = await customer(gql, admin)
    await order(gql, admin, person, days_ago(1))
    export = """query($r: [_Any!]!) { _entities(representations: $r) { ... on CustomerDataExport {
        customerId customers } } }"""
    rep = {"r": [{"__typename": "CustomerDataExport", "customerId": person}]}
    held = (await gql.ok(export, rep, admin, url=subgraph_url("customers")))["_entities"][0]
    assert held["customerId"] == person and held["customers"]["profile"]["id"] == person
    as_person = await gql(export, rep, customer_token(person, shop=shop), url=subgraph_url("customers"))
    assert codes(as_person) == ["FORBIDDEN"]  # even one's own export goes through an admin

    insight = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id segment
        stats { ordersCount } } } }"""
    mine = await gql.ok(insight, {"r": [{"__typename": "Customer", "id": person}]},
                        customer_token(person, shop=shop), url=subgraph_url("customers"))
    assert mine["_entities"][0] == {"id": person, "segment": "NEW", "stats": {"ordersCount": 1}}
    theirs = await gql(insight, {"r": [{"__typename": "Customer", "id": other}]},
                       customer_token(person, shop=shop), url=subgraph_url("customers"))
    assert codes(theirs) == ["FORBIDDEN"]
