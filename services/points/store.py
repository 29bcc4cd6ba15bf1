"""All SQL of the points service.

Lock order, everywhere: the customer's account row first, then an order's or a reward's row. One
customer's changes therefore serialise on the account, and two customers never wait on each other
in opposite order.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.points import expiry, ledger, rewards, tiers, wallet
from services.points.ledger import Entry
from services.points.program import DEFAULT, Program, ProgramChange, apply_change
from shared import events, outbox, schedule
from shared.db import Connection, Executor
from shared.errors import BadUserInput, Conflict, FlywheelError, InsufficientPoints, NotFound

SOURCE = "points"
RELEASE_JOB = "points.release"
EXPIRING_JOB = "points.expiring"
EXPIRE_JOB = "points.expire"
TIER_REVIEW_JOB = "points.tier_review"



def now() -> datetime:
    return datetime.now(UTC)


# ---- program ------------------------------------------------------------------------------


async def program(conn: Executor, shop: str, *, seed: bool = True) -> Program:
    """The program in force. A shop's first write seeds the defaults and the starter catalog; reads
    (seed=False) answer the defaults without writing, so anonymous callers naming made-up shops in
    X-Shop cannot fill the database."""
    row = await conn.fetchrow(
        "SELECT version, config FROM programs WHERE shop_id = $1 ORDER BY version DESC LIMIT 1", shop)
    if row is None and not seed:
        return DEFAULT
    if row is None:
        await conn.execute(
            "INSERT INTO programs (shop_id, version, config, actor) VALUES ($1, 1, $2, 'system')"
            " ON CONFLICT DO NOTHING", shop, DEFAULT.to_json())
        await conn.executemany(
            """INSERT INTO rewards (shop_id, id, name, kind, points_cost, value)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
            [(shop, r.id, r.name, r.kind, r.points_cost, r.value) for r in rewards.seeded(DEFAULT.currency)])
        row = await conn.fetchrow(
            "SELECT version, config FROM programs WHERE shop_id = $1 ORDER BY version DESC LIMIT 1", shop)
    return Program.from_json(row["version"], row["config"])


async def save_program(conn: Connection, shop: str, change: ProgramChange, actor: str) -> Program:
    """Append the next version, serialised per shop so two admins cannot both write version n+1."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('points.program:' || $1))", shop)
    nxt = apply_change(await program(conn, shop), change)
    await conn.execute("INSERT INTO programs (shop_id, version, config, actor) VALUES ($1, $2, $3, $4)",
                       shop, nxt.version, nxt.to_json(), actor)
    return nxt


async def liability_points(conn: Executor, shop: str) -> int:
    return await conn.fetchval(
        "SELECT coalesce(sum(balance + pending), 0) FROM accounts WHERE shop_id = $1", shop)


# ---- ledger -------------------------------------------------------------------------------


async def account(conn: Executor, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )


async def lock_account(conn: Connection, shop: str, customer_id: str) -> asyncpg.Record:
    await conn.execute(
        "INSERT INTO accounts (shop_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", shop, customer_id)
    return await conn.fetchrow(
        "SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE", shop, customer_id)


async def post(conn: Connection, shop: str, entry: Entry, *, announce: bool = True
               ) -> tuple[asyncpg.Record, bool]:
    """Append an entry and move the account's sums, inside the caller's transaction.

    Returns (account, applied). An entry whose idempotency key was seen before is not applied
    again; the same key with a different delta is a CONFLICT. The account row is locked, so
    concurrent entries serialise and the balance check cannot be raced."""
    acct = await lock_account(conn, shop, entry.customer_id)
    seen = await conn.fetchrow(
        "SELECT customer_id, delta FROM ledger_entries WHERE shop_id = $1 AND idempotency_key = $2",
        shop, entry.idempotency_key,
    )
    if seen is not None:
        if seen["customer_id"] != entry.customer_id or seen["delta"] != entry.delta:
            raise Conflict("this idempotency key was already used for a different change")
        return acct, False
    move = ledger.moves(entry)
    if acct["balance"] + move.balance < 0 or acct["pending"] + move.pending < 0:
        raise InsufficientPoints(
            f"balance {acct['balance']} is too low for {entry.delta}", balance=acct["balance"]
        )
    await conn.execute(
        """INSERT INTO ledger_entries (shop_id, customer_id, kind, bucket, delta, reason, source_event_id,
               idempotency_key, actor, rule_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        shop, entry.customer_id, entry.kind, entry.bucket, entry.delta, entry.reason, entry.source_event_id,
        entry.idempotency_key, entry.actor, entry.rule_version,
    )
    acct = await conn.fetchrow(
        """UPDATE accounts SET balance = balance + $3, pending = pending + $4,
               lifetime_earned = lifetime_earned + $5, updated_at = now(),
               last_activity_at = CASE WHEN $6 THEN now() ELSE last_activity_at END
           WHERE shop_id = $1 AND customer_id = $2
           RETURNING *""",
        shop, entry.customer_id, move.balance, move.pending, move.lifetime_earned,
        entry.kind in ("earn", "redeem"),
    )
    if entry.kind in ("earn", "redeem"):
        await plan_expiry(conn, shop, entry.customer_id, acct["last_activity_at"])
    if announce and entry.delta > 0 and entry.kind in ("earn", "adjust", "release"):
        await outbox.add(conn, events.PointsEarned(
            shop=shop, customer_id=entry.customer_id, points=entry.delta, balance=acct["balance"],
            reason=entry.reason, source_id=entry.source_event_id or entry.idempotency_key,
            pending=entry.bucket == ledger.PENDING, origin=ledger.origin(entry.idempotency_key),
        ), source=SOURCE)
    return acct, True


def _expiry_key(customer_id: str, activity: datetime) -> str:
    return f"{customer_id}|{activity.isoformat()}"


async def plan_expiry(conn: Connection, shop: str, customer_id: str, activity: datetime) -> None:
    """Plan the reminder and the lapse for this activity. Jobs planned for an earlier activity are not
    cancelled (that would scan the schedule on every earning): they find newer activity and do nothing."""
    prog = await program(conn, shop)
    if prog.expiry_months <= 0:
        return
    lapse = expiry.add_months(activity, prog.expiry_months)
    payload = {"customer_id": customer_id, "activity": activity.isoformat()}
    key = _expiry_key(customer_id, activity)
    await schedule.schedule(conn, shop=shop, kind=EXPIRING_JOB, dedup_key=key, due_at=expiry.warn_at(lapse),
                            payload=payload)
    await schedule.schedule(conn, shop=shop, kind=EXPIRE_JOB, dedup_key=key, due_at=lapse, payload=payload)


async def _still_inactive(conn: Connection, shop: str, payload: dict) -> asyncpg.Record | None:
    acct = await lock_account(conn, shop, payload["customer_id"])
    if acct["last_activity_at"] != datetime.fromisoformat(payload["activity"]) or acct["balance"] <= 0:
        return None  # activity since, or nothing left to lapse: this job is obsolete
    return acct


async def warn_expiring(conn: Connection, shop: str, payload: dict) -> None:
    acct = await _still_inactive(conn, shop, payload)
    if acct is None:
        return
    prog = await program(conn, shop)
    await outbox.add(conn, events.PointsExpiring(
        shop=shop, customer_id=acct["customer_id"], points=acct["balance"],
        expires_at=expiry.add_months(acct["last_activity_at"], prog.expiry_months)), source=SOURCE)


async def expire(conn: Connection, shop: str, payload: dict) -> None:
    acct = await _still_inactive(conn, shop, payload)
    if acct is None:
        return
    lapsing = acct["balance"]
    acct, _ = await post(conn, shop, Entry(
        customer_id=acct["customer_id"], kind="expire", delta=-lapsing, reason="no activity",
        idempotency_key=f"expire:{_expiry_key(acct['customer_id'], acct['last_activity_at'])}", actor="system"))
    await outbox.add(conn, events.PointsExpired(
        shop=shop, customer_id=acct["customer_id"], points=lapsing, balance=acct["balance"]), source=SOURCE)


async def credit_available(conn: Connection, shop: str, entry: Entry) -> asyncpg.Record:
    """Post points into the available bucket, then settle any shortfall from earlier takebacks."""
    acct, applied = await post(conn, shop, entry)
    owed = ledger.net_shortfall(acct["shortfall"], entry.delta) if applied else 0
    if owed:
        await post(conn, shop, Entry(
            customer_id=entry.customer_id, kind="reverse", delta=-owed, reason="earlier takeback netted",
            idempotency_key=f"{entry.idempotency_key}:shortfall", actor="system",
            rule_version=entry.rule_version, source_event_id=entry.source_event_id))
        acct = await conn.fetchrow(
            """UPDATE accounts SET shortfall = shortfall - $3 WHERE shop_id = $1 AND customer_id = $2
               RETURNING *""", shop, entry.customer_id, owed)
    return acct


async def history(pool: asyncpg.Pool, shop: str, customer_id: str, size: int,
                  before_id: int | None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM ledger_entries
           WHERE shop_id = $1 AND customer_id = $2 AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        shop, customer_id, before_id, size + 1,
    )


# ---- orders and tiers ---------------------------------------------------------------------


async def qualifying_spend(conn: Executor, shop: str, customer_id: str, currency: str, at: datetime) -> Decimal:
    return await conn.fetchval(
        """SELECT coalesce(sum(net_amount), 0) FROM order_points
           WHERE shop_id = $1 AND customer_id = $2 AND currency = $3 AND NOT voided AND paid_at > $4""",
        shop, customer_id, currency, at - tiers.PERIOD)


async def standing(conn: Executor, shop: str, acct: asyncpg.Record | None, customer_id: str, prog: Program,
                   at: datetime) -> tuple[tiers.Standing, Decimal]:
    spend = await qualifying_spend(conn, shop, customer_id, prog.currency, at)
    stored = acct["tier"] if acct is not None else None
    since = acct["tier_since"] if acct is not None else None
    return tiers.standing(stored, since, spend, prog.tiers, at), spend


def applied_tier(acct: asyncpg.Record | None, st: tiers.Standing, prog: Program, at: datetime) -> tiers.Tier:
    if acct is None:
        return st.tier
    return tiers.overridden(st, acct["tier_override"], acct["tier_override_until"], prog.tiers, at)


async def current_tier(conn: Executor, shop: str, customer_id: str) -> tiers.Tier:
    """The tier that applies to a customer now (as LoyaltyAccount.tier shows it): the standing on
    rolling spend, or an admin override while it lasts."""
    prog = await program(conn, shop, seed=False)
    acct = await account(conn, shop, customer_id)
    at = now()
    st, _ = await standing(conn, shop, acct, customer_id, prog, at)
    return applied_tier(acct, st, prog, at)


async def override_tier(conn: Connection, shop: str, customer_id: str, name: str, reason: str,
                        until: datetime) -> asyncpg.Record:
    prog = await program(conn, shop)
    at = now()
    tier = tiers.check_override(name, reason, until, prog.tiers, at)
    await refresh_tier(conn, shop, customer_id, prog)  # the tier before it is announced first (initial, say)
    await conn.execute(
        """UPDATE accounts SET tier_override = $3, tier_override_until = $4, tier_override_reason = $5
           WHERE shop_id = $1 AND customer_id = $2""",
        shop, customer_id, tier.name, until, reason.strip())
    # At its end the spend's tier applies again: announced by the job (or any refresh after it).
    await schedule.schedule(conn, shop=shop, kind=TIER_REVIEW_JOB, due_at=until,
                            dedup_key=f"{customer_id}|override|{until.isoformat()}",
                            payload={"customer_id": customer_id})
    await refresh_tier(conn, shop, customer_id, prog)
    return await account(conn, shop, customer_id)


async def refresh_tier(conn: Connection, shop: str, customer_id: str, prog: Program) -> None:
    """Upgrade at once (or downgrade once the period has ended), announce the tier that applies when it
    moved, and nudge when the next tier is near."""
    at = now()
    acct = await lock_account(conn, shop, customer_id)
    st, spend = await standing(conn, shop, acct, customer_id, prog, at)
    if st.changed:
        acct = await conn.fetchrow(
            "UPDATE accounts SET tier = $3, tier_since = $4 WHERE shop_id = $1 AND customer_id = $2 RETURNING *",
            shop, customer_id, st.tier.name, st.since)
        if st.since is not None and tiers.rank(st.tier, prog.tiers) > 0:
            # At the end of the period the tier is reviewed even if the customer never buys again.
            await schedule.schedule(conn, shop=shop, kind=TIER_REVIEW_JOB,
                                    dedup_key=f"{customer_id}|{st.since.isoformat()}",
                                    due_at=st.since + tiers.PERIOD, payload={"customer_id": customer_id})
    await announce_tier(conn, shop, acct, applied_tier(acct, st, prog, at), prog, at)
    near = tiers.is_near(st.tier, spend, prog.tiers)
    if near is not None:
        first = await conn.fetchval(
            """INSERT INTO tier_nudges (shop_id, customer_id, tier, period) VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING RETURNING true""",
            shop, customer_id, near.name, tiers.period_key(st.since, at))
        if first:
            await outbox.add(conn, events.TierNear(
                shop=shop, customer_id=customer_id, next_tier=near.name,
                amount_to_next=near.threshold - spend, currency=prog.currency), source=SOURCE)


async def announce_tier(conn: Connection, shop: str, acct: asyncpg.Record, applies: tiers.Tier,
                        prog: Program, at: datetime) -> None:
    """tier.changed when the tier that applies is not the one last announced (the account is locked)."""
    change = tiers.announcement(acct["announced_tier"], applies, prog.tiers, override=acct["tier_override"],
                                override_until=acct["tier_override_until"], now=at)
    if change is None:
        return
    await conn.execute("UPDATE accounts SET announced_tier = $3 WHERE shop_id = $1 AND customer_id = $2",
                       shop, acct["customer_id"], change.to_tier)
    await outbox.add(conn, events.TierChanged(
        shop=shop, customer_id=acct["customer_id"], from_tier=change.from_tier, to_tier=change.to_tier,
        direction=change.direction, reason=change.reason), source=SOURCE)


async def order_points(conn: Executor, shop: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM order_points WHERE shop_id = $1 AND order_id = $2", shop, order_id)


async def earn_for_order(conn: Connection, shop: str, data: events.OrderPaid, event_id: str,
                         paid_at: datetime) -> None:
    """Pending points for a paid order, on its net amount times the customer's tier multiplier."""
    prog = await program(conn, shop)
    acct = await lock_account(conn, shop, data.customer_id)
    if await order_points(conn, shop, data.order_id) is not None:
        return  # already earned, or cancelled before this event arrived: a natural key, not only the inbox
    st, _ = await standing(conn, shop, acct, data.customer_id, prog, paid_at)
    multiplier = applied_tier(acct, st, prog, paid_at).multiplier
    same_currency = data.currency == prog.currency
    points = ledger.points_for_purchase(data.net_amount, prog.earn_rate, multiplier) if same_currency else 0
    await conn.execute(
        """INSERT INTO order_points (shop_id, order_id, customer_id, currency, net_amount, earn_rate, multiplier,
               rule_version, earned, paid_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        shop, data.order_id, data.customer_id, data.currency, data.net_amount, prog.earn_rate,
        multiplier, prog.version, points, paid_at)
    entry = ledger.purchase_entry(data.customer_id, data.order_id, points, event_id, prog.version)
    if entry is not None:
        await post(conn, shop, entry)
    await refresh_tier(conn, shop, data.customer_id, prog)
    await grant_punch_card(conn, shop, data.customer_id, prog)
    delivered_at = await conn.fetchval(
        "DELETE FROM early_deliveries WHERE shop_id = $1 AND order_id = $2 RETURNING delivered_at", shop, data.order_id)
    if delivered_at is not None:
        await schedule_release(conn, shop, data.order_id, delivered_at)


async def schedule_release(conn: Connection, shop: str, order_id: str, delivered_at: datetime) -> None:
    row = await order_points(conn, shop, order_id)
    if row is None:
        # Delivered before its payment was handled: remember the delivery for earn_for_order. Both
        # handlers hold the customer's account lock, so one of them always sees the other's row.
        await conn.execute(
            """INSERT INTO early_deliveries (shop_id, order_id, delivered_at) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING""",
            shop, order_id, delivered_at)
        return
    if row["status"] != "PENDING" or row["release_at"] is not None:
        return
    prog = await program(conn, shop)
    due = delivered_at + timedelta(days=prog.pending_days)
    await conn.execute("UPDATE order_points SET release_at = $3 WHERE shop_id = $1 AND order_id = $2",
                       shop, order_id, due)
    await schedule.schedule(conn, shop=shop, kind=RELEASE_JOB, dedup_key=order_id, due_at=due,
                            payload={"order_id": order_id})


async def release(conn: Connection, shop: str, order_id: str) -> None:
    """The return window has passed: the order's remaining pending points become available."""
    peek = await order_points(conn, shop, order_id)
    if peek is None:
        return
    await lock_account(conn, shop, peek["customer_id"])
    row = await conn.fetchrow(
        "SELECT * FROM order_points WHERE shop_id = $1 AND order_id = $2 FOR UPDATE", shop, order_id)
    if row["status"] != "PENDING":
        return
    remaining = row["earned"] - row["taken_back"]
    out, into = ledger.release_entries(row["customer_id"], order_id, remaining, row["rule_version"]) or (None, None)
    if out is not None and into is not None:
        await post(conn, shop, out, announce=False)
        await credit_available(conn, shop, into)
    await conn.execute("UPDATE order_points SET status = 'AVAILABLE' WHERE shop_id = $1 AND order_id = $2",
                       shop, order_id)


async def take_back(conn: Connection, shop: str, order_id: str, customer_id: str,
                    net_remaining: Decimal, voided: bool, event_id: str, reason: str) -> None:
    """Refund or cancellation: take back what the order may no longer keep, by the rule that earned it."""
    await lock_account(conn, shop, customer_id)
    row = await conn.fetchrow(
        "SELECT * FROM order_points WHERE shop_id = $1 AND order_id = $2 FOR UPDATE", shop, order_id)
    if row is None:
        if not voided:
            raise LookupError(f"order {order_id} refunded before its payment was handled; retry")
        # Cancelled before payment (or before we saw it): a tombstone, so a late order.paid earns nothing.
        await conn.execute(
            """INSERT INTO order_points (shop_id, order_id, customer_id, currency, net_amount, earn_rate, multiplier,
                   rule_version, earned, status, voided, paid_at)
               VALUES ($1, $2, $3, '', 0, 0, 1, 0, 0, 'REVERSED', true, now())""",
            shop, order_id, customer_id)
        return
    keep = ledger.points_to_keep(net_remaining, row["earn_rate"], row["multiplier"], voided=voided)
    points = ledger.takeback(row["earned"], row["taken_back"], keep)
    status = "REVERSED" if voided else row["status"]
    await conn.execute(
        """UPDATE order_points SET taken_back = taken_back + $3, net_amount = $4, voided = $5, status = $6
           WHERE shop_id = $1 AND order_id = $2""",
        shop, order_id, points, min(net_remaining, row["net_amount"]), voided, status)
    # A release job planned for a voided order finds it REVERSED and does nothing; cancelling it by
    # prefix could also hit another order whose id starts with this one.
    if points == 0:
        return
    bucket = ledger.PENDING if row["status"] == "PENDING" else ledger.AVAILABLE
    await reverse(conn, shop, customer_id, points, bucket=bucket, reason=f"{reason} {order_id}",
                  key=f"order:{order_id}:reverse:{row['taken_back'] + points}", event_id=event_id,
                  rule_version=row["rule_version"])


async def reverse(conn: Connection, shop: str, customer_id: str, points: int, *, bucket: str, reason: str,
                  key: str, event_id: str, rule_version: int | None) -> None:
    """Take points back (a ledger `reverse` row); what was already spent becomes a shortfall, netted
    against future earnings. The caller makes sure one takeback runs once (its own state, not `key`)."""
    acct = await lock_account(conn, shop, customer_id)
    taken, short = ledger.split_takeback(points, acct["pending"] if bucket == ledger.PENDING else acct["balance"])
    if taken:
        acct, _ = await post(conn, shop, Entry(
            customer_id=customer_id, kind="reverse", delta=-taken, reason=reason, idempotency_key=key,
            actor="system", source_event_id=event_id, rule_version=rule_version, bucket=bucket))
    if short:
        acct = await conn.fetchrow(
            "UPDATE accounts SET shortfall = shortfall + $3 WHERE shop_id = $1 AND customer_id = $2 RETURNING *",
            shop, customer_id, short)
    await outbox.add(conn, events.PointsReversed(
        shop=shop, customer_id=customer_id, points=points, shortfall=short, balance=acct["balance"],
        reason=reason, source_id=event_id), source=SOURCE)


# ---- rewards ------------------------------------------------------------------------------


async def catalog(conn: Executor, shop: str, *, everything: bool = False) -> list[Any]:
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM programs WHERE shop_id = $1)", shop):
        return [{"id": r.id, "name": r.name, "kind": r.kind, "points_cost": r.points_cost, "value": r.value,
                 "min_tier": r.min_tier, "limit_per_customer": r.limit_per_customer, "limit_total": r.limit_total,
                 "active": r.active} for r in rewards.seeded(DEFAULT.currency)]  # what the first write will seed
    return await conn.fetch(
        "SELECT * FROM rewards WHERE shop_id = $1 AND listed AND ($2 OR active) ORDER BY points_cost, id",
        shop, everything)


async def upsert_reward(conn: Connection, shop: str, r: rewards.Reward) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO rewards (shop_id, id, name, kind, points_cost, value, min_tier, limit_per_customer,
               limit_total, active)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (shop_id, id) DO UPDATE SET name = $3, kind = $4, points_cost = $5, value = $6,
               min_tier = $7, limit_per_customer = $8, limit_total = $9, active = $10, updated_at = now(),
               redeemed_count = (SELECT count(*) FROM redemptions d WHERE d.shop_id = $1 AND d.reward_id = $2)
           RETURNING *""",
        shop, r.id, r.name, r.kind, r.points_cost, r.value, r.min_tier, r.limit_per_customer, r.limit_total,
        r.active)


def _reward(row: asyncpg.Record) -> rewards.Reward:
    return rewards.Reward(row["id"], row["name"], row["kind"], row["points_cost"], row["value"], row["min_tier"],
                          row["limit_per_customer"], row["limit_total"], row["active"])


async def reward(conn: Executor, shop: str, reward_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM rewards WHERE shop_id = $1 AND id = $2", shop, reward_id)


async def _issue(conn: Connection, shop: str, customer_id: str, row: asyncpg.Record, key: str,
                 points: int, currency: str) -> asyncpg.Record:
    redemption = await conn.fetchrow(
        """INSERT INTO redemptions (shop_id, id, customer_id, reward_id, idempotency_key, code, kind, points_spent,
               value, currency, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           RETURNING *""",
        shop, f"rd-{secrets.token_hex(8)}", customer_id, row["id"], key, rewards.new_code(), row["kind"], points,
        row["value"], currency, now() + rewards.CODE_VALIDITY)
    if row["limit_total"] is not None:  # counted only where a total limit needs it (see `redeem`)
        await conn.execute(
            "UPDATE rewards SET redeemed_count = redeemed_count + 1 WHERE shop_id = $1 AND id = $2", shop, row["id"])
    await outbox.add(conn, events.RewardRedeemed(
        shop=shop, customer_id=customer_id, redemption_id=redemption["id"], reward_id=row["id"],
        reward_name=row["name"], kind=row["kind"], code=redemption["code"], points_spent=points,
        value=row["value"], currency=currency, expires_at=redemption["expires_at"]), source=SOURCE)
    return redemption


async def redeem(conn: Connection, shop: str, customer_id: str, reward_id: str, key: str) -> asyncpg.Record:
    prog = await program(conn, shop)
    acct = await lock_account(conn, shop, customer_id)
    existing = await conn.fetchrow(
        "SELECT * FROM redemptions WHERE shop_id = $1 AND customer_id = $2 AND idempotency_key = $3",
        shop, customer_id, key)
    if existing is not None:
        if existing["reward_id"] != reward_id:
            raise Conflict("this idempotency key was already used for another reward")
        return existing
    row = await conn.fetchrow("SELECT * FROM rewards WHERE shop_id = $1 AND id = $2 AND listed", shop, reward_id)
    if row is None:
        raise NotFound(f"unknown reward {reward_id}", field="rewardId")
    if row["limit_total"] is not None:
        # Only a total limit makes customers wait on each other: the reward row serialises its count.
        row = await conn.fetchrow("SELECT * FROM rewards WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, reward_id)
    mine = await conn.fetchval(
        "SELECT count(*) FROM redemptions WHERE shop_id = $1 AND customer_id = $2 AND reward_id = $3",
        shop, customer_id, reward_id)
    st, _ = await standing(conn, shop, acct, customer_id, prog, now())
    rewards.check_redeemable(_reward(row), balance=acct["balance"], tier=applied_tier(acct, st, prog, now()),
                             tiers=prog.tiers,
                             redeemed_by_customer=mine, redeemed_total=row["redeemed_count"])
    await post(conn, shop, Entry(
        customer_id=customer_id, kind="redeem", delta=-row["points_cost"], reason=f"reward {row['name']}",
        idempotency_key=f"redeem:{customer_id}:{key}", actor="customer", rule_version=prog.version))
    return await _issue(conn, shop, customer_id, row, key, row["points_cost"], prog.currency)


async def grant_punch_card(conn: Connection, shop: str, customer_id: str, prog: Program) -> None:
    """The nth paid order (default the 3rd) unlocks a percentage-off code, once per customer."""
    if prog.punch_card_orders <= 0:
        return
    paid = await conn.fetchval(
        "SELECT count(*) FROM order_points WHERE shop_id = $1 AND customer_id = $2 AND NOT voided",
        shop, customer_id)
    if paid < prog.punch_card_orders:
        return
    row = await conn.fetchrow(
        """INSERT INTO rewards (shop_id, id, name, kind, points_cost, value, listed)
           VALUES ($1, $2, $3, 'PERCENTAGE', 0, $4, false)
           ON CONFLICT (shop_id, id) DO UPDATE SET value = $4
           RETURNING *""",
        shop, rewards.PUNCH_CARD_ID, f"{prog.punch_card_percent} % off: punch card", prog.punch_card_percent)
    key = "punch-card"
    if await conn.fetchval("SELECT 1 FROM redemptions WHERE shop_id = $1 AND customer_id = $2 AND idempotency_key = $3",
                           shop, customer_id, key):
        return
    await _issue(conn, shop, customer_id, row, key, 0, prog.currency)


async def redemptions(conn: Executor, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM redemptions WHERE shop_id = $1 AND customer_id = $2 ORDER BY created_at DESC, id LIMIT 200",
        shop, customer_id)


async def use_code(conn: Connection, shop: str, code: str) -> tuple[rewards.CodeCheck, asyncpg.Record | None]:
    """Consume a code exactly once: the UPDATE's WHERE is the check, so two checkouts cannot both win."""
    used = await conn.fetchrow(
        """UPDATE redemptions SET used_at = now()
           WHERE shop_id = $1 AND code = $2 AND used_at IS NULL AND expires_at > now()
           RETURNING *""", shop, code)
    if used is not None:
        return rewards.CodeCheck(True, None), used
    row = await conn.fetchrow("SELECT * FROM redemptions WHERE shop_id = $1 AND code = $2", shop, code)
    check = rewards.check_code(row is not None, row["used_at"] if row else None, row["expires_at"] if row else None,
                               now())
    return check, row


# ---- store credit -------------------------------------------------------------------------


async def credit_account(conn: Executor, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM credit_accounts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)


async def post_credit(conn: Connection, shop: str, entry: wallet.CreditEntry) -> tuple[asyncpg.Record, bool]:
    """Append a wallet entry and move its balance (never below zero), inside the caller's transaction.
    The points account is locked first (the service's lock order), then the wallet."""
    await lock_account(conn, shop, entry.customer_id)
    await conn.execute(
        """INSERT INTO credit_accounts (shop_id, customer_id, currency) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""", shop, entry.customer_id, entry.currency)
    acct = await conn.fetchrow(
        "SELECT * FROM credit_accounts WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE", shop, entry.customer_id)
    if acct["currency"] != entry.currency:
        raise BadUserInput(f"the wallet is in {acct['currency']}, not {entry.currency}", field="currency")
    seen = await conn.fetchrow(
        "SELECT customer_id, amount FROM credit_entries WHERE shop_id = $1 AND idempotency_key = $2",
        shop, entry.idempotency_key)
    if seen is not None:
        if seen["customer_id"] != entry.customer_id or seen["amount"] != entry.amount:
            raise Conflict("this idempotency key was already used for a different change")
        return acct, False
    if acct["balance"] + entry.amount < 0:
        raise InsufficientPoints(f"store credit {acct['balance']} is too low for {-entry.amount}",
                                 balance=str(acct["balance"]))
    await conn.execute(
        """INSERT INTO credit_entries (shop_id, customer_id, kind, amount, currency, reason, source_event_id,
               idempotency_key, actor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        shop, entry.customer_id, entry.kind, entry.amount, entry.currency, entry.reason, entry.source_event_id,
        entry.idempotency_key, entry.actor)
    acct = await conn.fetchrow(
        """UPDATE credit_accounts SET balance = balance + $3, updated_at = now()
           WHERE shop_id = $1 AND customer_id = $2 RETURNING *""", shop, entry.customer_id, entry.amount)
    source_id = entry.source_event_id or entry.idempotency_key
    if entry.amount > 0:
        await outbox.add(conn, events.CreditGranted(
            shop=shop, customer_id=entry.customer_id, amount=entry.amount, currency=entry.currency,
            balance=acct["balance"], reason=entry.reason, source_id=source_id,
            origin=ledger.origin(entry.idempotency_key)), source=SOURCE)
    else:
        await outbox.add(conn, events.CreditSpent(
            shop=shop, customer_id=entry.customer_id, amount=-entry.amount, currency=entry.currency,
            balance=acct["balance"], source_id=source_id), source=SOURCE)
    return acct, True


async def spend_credit(conn: Connection, shop: str, customer_id: str, amount: Decimal, key: str
                       ) -> asyncpg.Record:
    """Turn wallet credit into a single-use STORE_CREDIT code the checkout redeems like any reward code."""
    prog = await program(conn, shop)
    await lock_account(conn, shop, customer_id)
    existing = await conn.fetchrow(
        "SELECT * FROM redemptions WHERE shop_id = $1 AND customer_id = $2 AND idempotency_key = $3",
        shop, customer_id, f"credit:{key}")
    if existing is not None:
        if existing["reward_id"] != wallet.STORE_CREDIT_ID or existing["value"] != amount:
            raise Conflict("this idempotency key was already used for another change")
        return existing
    await post_credit(conn, shop, wallet.CreditEntry(
        customer_id=customer_id, kind="spend", amount=-amount, currency=prog.currency,
        reason="store-credit code", idempotency_key=f"credit:spend:{customer_id}:{key}", actor="customer"))
    await conn.execute(
        """INSERT INTO rewards (shop_id, id, name, kind, points_cost, listed)
           VALUES ($1, $2, 'Store credit', 'STORE_CREDIT', 0, false) ON CONFLICT DO NOTHING""",
        shop, wallet.STORE_CREDIT_ID)
    row = await reward(conn, shop, wallet.STORE_CREDIT_ID)
    return await _issue(conn, shop, customer_id, {**dict(row), "value": amount}, f"credit:{key}", 0, prog.currency)


# ---- actions ------------------------------------------------------------------------------


async def reward_action(conn: Connection, shop: str, customer_id: str, reward: wallet.ActionReward,
                        event_id: str, prog: Program) -> None:
    """Points (available at once) or store credit for an action, once per its natural key: a second
    review of the same product (with media this time, or another rating) earns nothing more. A
    customer's first action (the signup, usually) also gives them their first tier."""
    if (await lock_account(conn, shop, customer_id))["announced_tier"] is None:
        await refresh_tier(conn, shop, customer_id, prog)
    if await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM ledger_entries WHERE shop_id = $1 AND idempotency_key = $2)
                   OR EXISTS (SELECT 1 FROM credit_entries WHERE shop_id = $1 AND idempotency_key = $3)""",
            shop, reward.key, f"credit:{reward.key}"):
        return
    if reward.credit > 0:
        await post_credit(conn, shop, wallet.CreditEntry(
            customer_id=customer_id, kind="grant", amount=reward.credit, currency=prog.currency,
            reason=reward.reason, idempotency_key=f"credit:{reward.key}", actor="system", source_event_id=event_id))
    elif reward.points > 0:
        await credit_available(conn, shop, Entry(
            customer_id=customer_id, kind="earn", delta=reward.points, reason=reward.reason,
            idempotency_key=reward.key, actor="system", source_event_id=event_id, rule_version=prog.version))


async def bulk_adjust(conn: Connection, shop: str, entries: list[Entry | FlywheelError]
                      ) -> tuple[int, int, list[tuple[int, str | None, FlywheelError]]]:
    """Apply a batch set-wise inside the caller's transaction: (applied, already applied, per-row errors).

    The same rules as `post`, row by row in order (a seen key is skipped or conflicts, no balance goes
    negative), but with a handful of statements for the whole batch instead of several per row."""
    errors: list[tuple[int, str | None, FlywheelError]] = []
    good = [(i, e) for i, e in enumerate(entries) if isinstance(e, Entry)]
    errors += [(i, None, e) for i, e in enumerate(entries) if isinstance(e, FlywheelError)]
    customers = sorted({e.customer_id for _, e in good})
    await conn.execute(
        """INSERT INTO accounts (shop_id, customer_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING""",
        shop, customers)
    balances = {r["customer_id"]: r["balance"] for r in await conn.fetch(
        """SELECT customer_id, balance FROM accounts WHERE shop_id = $1 AND customer_id = ANY($2::text[])
           ORDER BY customer_id FOR UPDATE""", shop, customers)}
    seen = {r["idempotency_key"]: r for r in await conn.fetch(
        """SELECT idempotency_key, customer_id, delta FROM ledger_entries
           WHERE shop_id = $1 AND idempotency_key = ANY($2::text[])""", shop, [e.idempotency_key for _, e in good])}
    accepted: list[Entry] = []
    skipped = 0
    for i, e in good:
        before = seen.get(e.idempotency_key)
        if before is not None:
            if before["customer_id"] != e.customer_id or before["delta"] != e.delta:
                errors.append((i, e.customer_id, Conflict("this row was already applied with other values")))
            else:
                skipped += 1
            continue
        if balances[e.customer_id] + e.delta < 0:
            errors.append((i, e.customer_id, InsufficientPoints(
                f"balance {balances[e.customer_id]} is too low for {e.delta}", balance=balances[e.customer_id])))
            continue
        balances[e.customer_id] += e.delta
        accepted.append(e)
    await conn.execute(
        """INSERT INTO ledger_entries (shop_id, customer_id, kind, bucket, delta, reason, idempotency_key, actor)
           SELECT $1, c, 'adjust', 'available', d, r, k, 'admin'
           FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS t(c, d, r, k)""",
        shop, [e.customer_id for e in accepted], [e.delta for e in accepted], [e.reason for e in accepted],
        [e.idempotency_key for e in accepted])
    sums: dict[str, tuple[int, int]] = {}
    for e in accepted:
        move = ledger.moves(e)
        b, life = sums.get(e.customer_id, (0, 0))
        sums[e.customer_id] = (b + move.balance, life + move.lifetime_earned)
    await conn.execute(
        """UPDATE accounts a SET balance = a.balance + t.b, lifetime_earned = a.lifetime_earned + t.l,
               updated_at = now()
           FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t(c, b, l)
           WHERE a.shop_id = $1 AND a.customer_id = t.c""",
        shop, list(sums), [v[0] for v in sums.values()], [v[1] for v in sums.values()])
    await outbox.add_many(conn, [
        events.PointsEarned(shop=shop, customer_id=e.customer_id, points=e.delta, balance=balances[e.customer_id],
                            reason=e.reason, source_id=e.idempotency_key, origin=ledger.origin(e.idempotency_key))
        for e in accepted if e.delta > 0
    ], source=SOURCE)
    errors.sort(key=lambda x: x[0])
    return len(accepted), skipped, errors
