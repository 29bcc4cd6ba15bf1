"""The first slice through the gateway: an order becomes points and a thank-you email, and one
query reads the customer across all five subgraphs. Points of a paid order are pending until the
return window after delivery has passed (services/points)."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.stack import ADMIN, INGEST, customer_token, mailsink_url
from tests.support import eventually

BALANCE = "{ me { id email loyalty { balance pending lifetimeEarned } } }"
FULL_VIEW = """query($id: ID!) { customer(id: $id) {
  id email firstName
  loyalty { balance pending }
  pointsHistory(first: 5) { edges { node { delta kind reason } } }
  referralCode referralLink
  reviews { id }
  orders(first: 5) { edges { node { id status total { amount currency } } } }
  notifications(first: 5) { edges { node { id channel template status createdAt } } }
} }"""


async def test_an_order_becomes_points_a_thank_you_email_and_one_customer_view(gql, new_customer, paid_order):
    customer = await new_customer(firstName="Anna")
    order = await paid_order(customer["id"])

    async def balance():
        data = await gql.ok(BALANCE, headers=customer_token(customer["id"]))
        return data["me"]["loyalty"]["pending"] == 45 and data["me"]

    me = await eventually(balance, what="45 pending points")
    assert me["email"] == customer["email"] and me["loyalty"]["lifetimeEarned"] == 45
    assert me["loyalty"]["balance"] == 0

    async def sent():
        data = await gql.ok(FULL_VIEW, {"id": customer["id"]}, ADMIN)
        nodes = [e["node"] for e in data["customer"]["notifications"]["edges"]]
        return any(n["status"] == "SENT" for n in nodes) and data["customer"]

    view = await eventually(sent, what="the thank-you email")
    assert view["loyalty"] == {"balance": 0, "pending": 45}
    assert view["pointsHistory"]["edges"][0]["node"] == {"delta": 45, "kind": "EARN",
                                                         "reason": f"purchase {order['id']}"}
    assert len(view["referralCode"]) == 8 and view["referralLink"].endswith(view["referralCode"])
    assert view["reviews"] == []
    assert view["orders"]["edges"][0]["node"] == {"id": order["id"], "status": "PAID",
                                                  "total": {"amount": "57.40", "currency": "EUR"}}
    assert view["notifications"]["edges"][0]["node"]["template"] == "order_thank_you"

    async with httpx.AsyncClient(timeout=30) as client:
        mails = (await client.get(f"{mailsink_url()}/messages", params={"to": customer["email"]})).json()
    assert len(mails) == 1
    assert order["id"] in mails[0]["subject"]
    assert "Hi Anna" in mails[0]["text"] and "57.40 EUR" in mails[0]["text"]
    assert mails[0]["html"]


async def test_german_customers_get_german_mail(gql, new_customer):
    customer = await new_customer(firstName="Jonas", locale="de")
    order = order_input(customer["id"])
    await gql.ok(RECORD, {"input": order}, INGEST)

    async def mail():
        async with httpx.AsyncClient(timeout=30) as client:
            return (await client.get(f"{mailsink_url()}/messages", params={"to": customer["email"]})).json()

    mails = await eventually(mail, what="the German mail")
    assert mails[0]["subject"].startswith("Danke") and "Hallo Jonas" in mails[0]["text"]


async def test_replayed_status_updates_and_orders_credit_once(gql, new_customer, paid_order):
    customer = await new_customer()
    order = await paid_order(customer["id"])
    again = await gql.ok(RECORD, {"input": order}, INGEST)  # the platform retries its webhook
    assert again["recordOrder"]["status"] == "PAID"
    await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
    second = await paid_order(customer["id"], total="17.40", discountTotal="0.00",
                              lines=[{"productId": "p-tea", "quantity": 1, "unitPrice": "5.00"}])
    assert second

    async def balance():
        data = await gql.ok(BALANCE, headers=customer_token(customer["id"]))
        return data["me"]["loyalty"]["pending"] == 50 and data
    await eventually(balance, what="45 + 5 pending points")
    history = await gql.ok("{ me { pointsHistory { edges { node { delta } } } } }",
                           headers=customer_token(customer["id"]))
    assert sorted(e["node"]["delta"] for e in history["me"]["pointsHistory"]["edges"]) == [5, 45]


async def test_refund_and_delivery_walk_the_state_machine(gql, new_customer, paid_order):
    customer = await new_customer()
    order = await paid_order(customer["id"])
    shipped = await gql.ok(STATUS, {"id": order["id"], "status": "SHIPPED"}, INGEST)
    assert shipped["updateOrderStatus"]["status"] == "SHIPPED"
    partial = await gql.ok(STATUS, {"id": order["id"], "status": "REFUNDED", "refunded": "10.00"}, INGEST)
    assert partial["updateOrderStatus"] == {"id": order["id"], "status": "SHIPPED", "refunded": {"amount": "10.00"}}
    full = await gql.ok(STATUS, {"id": order["id"], "status": "REFUNDED"}, INGEST)
    assert full["updateOrderStatus"]["status"] == "REFUNDED"
