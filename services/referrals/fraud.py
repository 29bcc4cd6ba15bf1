"""Why a referral is refused. Pure rules over what the referrals service knows of both people.

Each rejection carries a reason code that goes on `referral.rejected` and is shown to admins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SELF_REFERRAL = "SELF_REFERRAL"
SAME_EMAIL = "SAME_EMAIL"
SAME_DEVICE = "SAME_DEVICE"
SAME_ADDRESS = "SAME_ADDRESS"
SAME_PAYMENT = "SAME_PAYMENT"
NOT_NEW = "NOT_NEW"
VELOCITY = "VELOCITY"
MONTHLY_CAP = "MONTHLY_CAP"
ORDER_TOO_SMALL = "ORDER_TOO_SMALL"
REASONS = (SELF_REFERRAL, SAME_EMAIL, SAME_DEVICE, SAME_ADDRESS, SAME_PAYMENT, NOT_NEW, VELOCITY, MONTHLY_CAP,
           ORDER_TOO_SMALL)

_DOTLESS_DOMAINS = {"gmail.com", "googlemail.com"}


def email_key(email: str | None) -> str | None:
    """One key per mailbox: lower case, no +tag, and for Gmail no dots (a.b+x@gmail.com = ab@gmail.com)."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


@dataclass(frozen=True)
class Person:
    customer_id: str
    email_key: str | None = None
    devices: frozenset[str] = field(default_factory=frozenset)
    addresses: frozenset[str] = field(default_factory=frozenset)
    payments: frozenset[str] = field(default_factory=frozenset)


def identity_rejection(referrer: Person, friend: Person, *, shared_address_rejects: bool) -> str | None:
    """The friend must be someone else: not the referrer's account, mailbox, device, address or card."""
    if referrer.customer_id == friend.customer_id:
        return SELF_REFERRAL
    if referrer.email_key and referrer.email_key == friend.email_key:
        return SAME_EMAIL
    if referrer.devices & friend.devices:
        return SAME_DEVICE
    if referrer.payments & friend.payments:
        return SAME_PAYMENT
    if shared_address_rejects and referrer.addresses & friend.addresses:
        return SAME_ADDRESS  # a household may share one; merchants can allow that
    return None


def velocity_rejection(signups_last_hour: int, limit: int) -> str | None:
    """More sign-ups through one referrer within an hour than a person plausibly brings."""
    return VELOCITY if signups_last_hour >= limit else None
