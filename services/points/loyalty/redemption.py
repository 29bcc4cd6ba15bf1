"""Single-use codes: points spent on a catalog reward, the punch card's code, store credit turned
into a code, and the checkout consuming a code exactly once (validateRewardCode). Each code is also
an offer (offers/issuing.py), issued in the same transaction under the key `redemption:<id>`: the
offer is what checkCode / redeemCode / validateRewardCode use, the redemption keeps what was spent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from services.points import SOURCE
from services.points.loyalty import accounts, configuration, posting, rewards, store, wallet
from services.points.loyalty.ledger import Entry
from services.points.loyalty.program import Program
from services.points.offers import checkout, issuing
from services.points.offers.terms import Ask
from shared import events, outbox
from shared.db import Connection, transaction
from shared.errors import Conflict, NotFound


@dataclass(frozen=True)
class Redeemed:
    redemption: asyncpg.Record
    reward: asyncpg.Record


def _rule(row: asyncpg.Record) -> rewards.Reward:
    return rewards.Reward(row["id"], row["name"], row["kind"], row["points_cost"], row["value"], row["min_tier"],
                          row["limit_per_customer"], row["limit_total"], row["active"])


async def _reward(conn: Connection, shop: str, reward_id: str) -> asyncpg.Record:
    row = await store.rewards.reward(conn, shop, reward_id)
    if row is None:  # only for rewards known to exist: redemptions reference theirs
        raise LookupError(f"reward {reward_id} is missing")
    return row


async def _of(conn: Connection, shop: str, redemption: asyncpg.Record) -> Redeemed:
    return Redeemed(redemption, await _reward(conn, shop, redemption["reward_id"]))


def _source(reward_id: str) -> str:
    return {rewards.PUNCH_CARD_ID: "PUNCH_CARD", wallet.STORE_CREDIT_ID: "STORE_CREDIT"}.get(reward_id, "REWARD")


async def _issue(conn: Connection, shop: str, customer_id: str, reward: asyncpg.Record, key: str, points: int,
                 value: Decimal | None, currency: str, valid_for: timedelta = rewards.CODE_VALIDITY) -> asyncpg.Record:
    redemption = await store.rewards.add_redemption(
        conn, shop, id=rewards.redemption_id(), customer_id=customer_id, reward_id=reward["id"], key=key,
        code=rewards.new_code(), kind=reward["kind"], points=points, value=value, currency=currency,
        expires_at=datetime.now(UTC) + valid_for)
    await issuing.issue(conn, shop, Ask(
        key=f"redemption:{redemption['id']}", source=_source(reward["id"]), customer_id=customer_id,
        kind=reward["kind"], value=value, currency=currency, expires_at=redemption["expires_at"],
        code=redemption["code"], reward_id=reward["id"], redemption_id=redemption["id"]), trusted=True)
    if reward["limit_total"] is not None:  # counted only where a total limit needs it (see `redeem`)
        await store.rewards.count_redeemed(conn, shop, reward["id"])
    await outbox.add(conn, events.RewardRedeemed(
        shop=shop, customer_id=customer_id, redemption_id=redemption["id"], reward_id=reward["id"],
        reward_name=reward["name"], kind=reward["kind"], code=redemption["code"], points_spent=points,
        value=value, currency=currency, expires_at=redemption["expires_at"]), source=SOURCE)
    return redemption


async def redeem(pool: asyncpg.Pool, shop: str, customer_id: str, reward_id: str, key: str) -> Redeemed:
    """Spend points on a listed reward: a code. The same key answers the same redemption; with
    another reward it is a CONFLICT."""
    async with transaction(pool) as conn:
        prog = await configuration.seeded(conn, shop)
        acct = await posting.lock(conn, shop, customer_id)
        existing = await store.rewards.redemption_by_key(conn, shop, customer_id, key)
        if existing is not None:
            if existing["reward_id"] != reward_id:
                raise Conflict("this idempotency key was already used for another reward")
            return await _of(conn, shop, existing)
        row = await store.rewards.listed_reward(conn, shop, reward_id)
        if row is None:
            raise NotFound(f"unknown reward {reward_id}", field="rewardId")
        if row["limit_total"] is not None:
            # Only a total limit makes customers wait on each other: the reward row serialises its count.
            row = await store.rewards.lock_reward(conn, shop, reward_id)
        rule = _rule(row)
        # The customer's tier and their count of this reward are read only for a reward they limit.
        mine = (await store.rewards.redeemed_by(conn, shop, customer_id, reward_id)
                if rule.limit_per_customer is not None else None)
        tier = None
        if rule.min_tier is not None:
            at = datetime.now(UTC)
            st, _ = await accounts.standing(conn, shop, acct, customer_id, prog, at)
            tier = accounts.applied(acct, st, prog, at)
        rewards.check_redeemable(rule, balance=acct["balance"], tier=tier, tiers=prog.tiers,
                                 redeemed_by_customer=mine, redeemed_total=row["redeemed_count"])
        await posting.post(conn, shop, Entry(
            customer_id=customer_id, kind="redeem", delta=-row["points_cost"], reason=f"reward {row['name']}",
            idempotency_key=f"redeem:{customer_id}:{key}", actor="customer", rule_version=prog.version))
        issued = await _issue(conn, shop, customer_id, row, key, row["points_cost"], row["value"], prog.currency)
        return Redeemed(issued, row)


async def grant_punch_card(conn: Connection, shop: str, customer_id: str, prog: Program) -> None:
    """The nth paid order (default the 3rd) unlocks a percentage-off code, once per customer."""
    if prog.punch_card_orders <= 0:
        return
    if await store.orders.paid_orders(conn, shop, customer_id) < prog.punch_card_orders:
        return
    row = await store.rewards.upsert_unlisted(conn, shop, rewards.PUNCH_CARD_ID,
                                              f"{prog.punch_card_percent} % off: punch card", "PERCENTAGE",
                                              prog.punch_card_percent)
    key = "punch-card"
    if await store.rewards.redemption_by_key(conn, shop, customer_id, key) is not None:
        return
    default = prog.offers.default("PUNCH_CARD")
    valid_for = timedelta(days=default.valid_days) if default is not None else rewards.CODE_VALIDITY
    await _issue(conn, shop, customer_id, row, key, 0, row["value"], prog.currency, valid_for)


async def spend_credit(pool: asyncpg.Pool, shop: str, customer_id: str, amount: str, key: str) -> Redeemed:
    """Turn wallet credit into a single-use STORE_CREDIT code the checkout redeems like any reward code.
    Idempotent on the key; the same key with another amount is a CONFLICT."""
    async with transaction(pool) as conn:
        prog = await configuration.seeded(conn, shop)
        value = wallet.amount(amount, "amount", prog.currency)
        await posting.hold(conn, shop, customer_id)
        existing = await store.rewards.redemption_by_key(conn, shop, customer_id, f"credit:{key}")
        if existing is not None:
            if existing["reward_id"] != wallet.STORE_CREDIT_ID or existing["value"] != value:
                raise Conflict("this idempotency key was already used for another change")
            return await _of(conn, shop, existing)
        await posting.post_credit(conn, shop, wallet.CreditEntry(
            customer_id=customer_id, kind="spend", amount=-value, currency=prog.currency,
            reason="store-credit code", idempotency_key=f"credit:spend:{customer_id}:{key}", actor="customer"))
        await store.rewards.add_unlisted(conn, shop, wallet.STORE_CREDIT_ID, "Store credit", "STORE_CREDIT")
        row = await _reward(conn, shop, wallet.STORE_CREDIT_ID)
        return Redeemed(await _issue(conn, shop, customer_id, row, f"credit:{key}", 0, value, prog.currency), row)


async def use_code(pool: asyncpg.Pool, shop: str, code: str) -> tuple[rewards.CodeCheck, Redeemed | None]:
    """Consume a code exactly once at checkout (validateRewardCode): the check, and the redemption when
    the code is one. The code's offer counts the use, so checkCode and redeemCode see it too."""
    normal = rewards.normalise_code(code)
    async with transaction(pool) as conn:
        reason, redemption_id = await checkout.consume_reward_code(conn, shop, normal)
        row = await store.rewards.redemption_by_code(conn, shop, normal) if redemption_id else None
        return rewards.CodeCheck(reason is None, reason), await _of(conn, shop, row) if row else None
