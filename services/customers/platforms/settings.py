"""Where the platforms reach this service and where it reaches them, from the environment.

  WEBHOOKS_PUBLIC_URL     the address platforms call (webhook subscriptions, Shopware's
                          confirmation URL); default http://127.0.0.1:$CUSTOMERS_PORT
  SHOPIFY_ADMIN_API_URL   a template with {domain} and {version}; empty: Shopify itself,
                          https://{domain}/admin/api/{version}/graphql.json (the tests and `make up`
                          point it at the local fake)
  SHOPWARE_APP_NAME       the app's technical name in its manifest (the registration proof), unless a
                          connection names its own; default FlywheelLoyalty
"""

from __future__ import annotations

import os

SHOPIFY_ADMIN = "https://{domain}/admin/api/{version}/graphql.json"
TIMEOUT_SECONDS = 10.0


def public_url() -> str:
    base = os.environ.get("WEBHOOKS_PUBLIC_URL", "").strip()
    return (base or f"http://127.0.0.1:{os.environ.get('CUSTOMERS_PORT', '4101')}").rstrip("/")


def shopify_admin_url(domain: str, version: str) -> str:
    template = os.environ.get("SHOPIFY_ADMIN_API_URL", "").strip() or SHOPIFY_ADMIN
    return template.format(domain=domain, version=version)


def shopware_app_name() -> str:
    return os.environ.get("SHOPWARE_APP_NAME", "").strip() or "FlywheelLoyalty"
