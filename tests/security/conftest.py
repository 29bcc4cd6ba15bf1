"""The security suite (issue 23): each edge protection driven from outside, through real HTTP, the way
an attacker or a storefront would meet it. Most tests use the running development stack; the rest use
`edge`: a production-mode customers instance and a production-mode gateway in front of it, started
once for the suite beside the stack (tests/gateways.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.customers.platforms.secrets import DEV_KEY, new_key
from tests.e2e.conftest import gql, http, new_customer, stack  # noqa: F401  (the e2e fixtures, shared)
from tests.gateways import gateway_process, service_process, spare_port


def client_address() -> str:
    """A documentation address (RFC 3849) of its own, so no two tests share a client's budget."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


EDGE_SHOP = "security-edge"  # never `default`, the developer's (tests/e2e/test_default_shop.py)


@dataclass(frozen=True)
class Edge:
    gateway: str            # the production gateway's /graphql
    customers: str          # the production customers instance (GraphQL listener)
    customers_public: str   # its listener for webhooks
    secret: str             # GATEWAY_SECRET
    admin: dict[str, str]   # an admin key both know (≥ 128 bits, as production demands)
    code_checks_per_minute: int


@pytest.fixture(scope="session")
def edge(stack) -> Iterator[Edge]:  # noqa: F811
    secret = secrets.token_urlsafe(32)
    admin_key = secrets.token_urlsafe(32)
    public_port = spare_port()
    customers_settings = {
        "FLYWHEEL_ENV": "production", "GATEWAY_SECRET": secret, "JWT_SECRET": secrets.token_urlsafe(48),
        "ADMIN_API_KEY": admin_key, "INGEST_API_KEY": secrets.token_urlsafe(32), "API_KEYS": "",
        "CUSTOMERS_PUBLIC_PORT": str(public_port),
        # Production seals connection secrets with a key of its own; the development key stays behind
        # it (as in a rotation) since this instance shares the stack's database and its connections.
        "PLATFORM_SECRET_KEYS": f"{new_key()},{DEV_KEY}",
        "DEFAULT_SHOP": EDGE_SHOP,  # the shop of its keys: this instance writes into the stack's databases
    }
    with service_process("customers-production", "customers", **customers_settings) as customers:
        gateway_settings = {
            "FLYWHEEL_ENV": "production", "GATEWAY_SECRET": secret, "CUSTOMERS_URL": f"{customers}/graphql",
            "ADMIN_API_KEY": admin_key, "DEFAULT_SHOP": EDGE_SHOP, "TRUSTED_PROXIES": "10.0.0.0/8",
            "CODE_CHECKS_PER_MINUTE": "20",
            "CORS_ORIGINS": "https://shop.example", "PERSISTED_OPERATIONS": "allow",
        }
        with gateway_process("production-edge", **gateway_settings) as gateway:
            yield Edge(gateway=gateway, customers=customers, customers_public=f"http://127.0.0.1:{public_port}",
                       secret=secret, admin={"x-api-key": admin_key}, code_checks_per_minute=20)
