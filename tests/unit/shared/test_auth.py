import time

import jwt
import pytest

from shared.auth import authenticate
from shared.errors import Forbidden, Unauthenticated
from shared.settings import Settings

SETTINGS = Settings.from_env("customers")
SECRET = SETTINGS.jwt_secret


def token(claims, secret=SECRET, alg="HS256"):
    return jwt.encode(claims, secret, algorithm=alg)


def bearer(**claims):
    return {"authorization": "Bearer " + token({"exp": int(time.time()) + 600, **claims})}


def test_customer_token():
    p = authenticate(bearer(sub="c-1", shop="brand-at"), SETTINGS)
    assert (p.kind, p.customer_id, p.shop) == ("customer", "c-1", "brand-at")
    p.require_customer_access("c-1")
    with pytest.raises(Forbidden):
        p.require_customer_access("c-2")
    with pytest.raises(Forbidden):
        p.require_admin()
    with pytest.raises(Forbidden):
        p.require_ingest()


def test_shop_defaults():
    assert authenticate(bearer(sub="c-1"), SETTINGS).shop == SETTINGS.default_shop
    assert authenticate({"x-shop": "brand-ch"}, SETTINGS).shop == "brand-ch"


def test_admin_by_token_and_by_key():
    assert authenticate(bearer(sub="ops", roles=["admin"]), SETTINGS).kind == "admin"
    admin = authenticate({"x-api-key": "dev-admin-key"}, SETTINGS)
    admin.require_admin()
    admin.require_customer_access("anyone")
    ingest = authenticate({"x-api-key": "dev-ingest-key"}, SETTINGS)
    ingest.require_ingest()
    with pytest.raises(Forbidden):
        ingest.require_admin()


@pytest.mark.parametrize("headers", [
    {"authorization": "Bearer " + token({"sub": "c-1", "exp": int(time.time()) + 600}, secret="x" * 40)},
    {"authorization": "Bearer " + token({"sub": "c-1", "exp": int(time.time()) - 3600}, secret="x" * 40)},
    {"authorization": "Bearer " + token({"sub": "c-1"})},  # no expiry
    {"authorization": "Bearer " + token({"exp": int(time.time()) + 600})},  # no subject
    {"authorization": "Bearer not.a.jwt"},
    {"authorization": "Basic dXNlcjpwYXNz"},
    {"authorization": "Bearer " + jwt.encode({"sub": "c-1", "exp": int(time.time()) + 600}, None, algorithm="none")},
    {"x-api-key": "guessed"},
])
def test_bad_credentials_are_unauthenticated(headers):
    with pytest.raises(Unauthenticated):
        authenticate(headers, SETTINGS)


def test_a_token_without_exp_is_told_so():
    with pytest.raises(Unauthenticated, match="no 'exp' claim"):
        authenticate({"authorization": "Bearer " + token({"sub": "c-1"})}, SETTINGS)


@pytest.mark.parametrize("roles", [None, ["admin"]])
def test_an_expired_genuine_token_is_a_public_caller_of_its_shop(roles):
    """A stale storefront session: public fields still answer; what needs the token says it expired."""
    claims = {"sub": "c-1", "shop": "brand-at", "exp": int(time.time()) - 3600, **({"roles": roles} if roles else {})}
    p = authenticate({"authorization": "Bearer " + token(claims), "x-shop": "brand-ch"}, SETTINGS)
    assert (p.kind, p.shop, p.customer_id, p.token_expired) == ("public", "brand-at", None, True)
    for needs_the_token in (p.require_customer, p.require_admin, p.require_ingest,
                            lambda: p.require_customer_access("c-1")):
        with pytest.raises(Unauthenticated, match="token expired"):
            needs_the_token()
    # within the 30 s leeway it is still the customer
    fresh = authenticate(bearer(sub="c-1", exp=int(time.time()) - 20), SETTINGS)
    assert (fresh.kind, fresh.token_expired) == ("customer", False)


def test_public_callers_must_authenticate_for_private_data():
    public = authenticate({}, SETTINGS)
    assert public.kind == "public"
    with pytest.raises(Unauthenticated):
        public.require_customer_access("c-1")


def test_keys_of_other_shops(monkeypatch):
    monkeypatch.setenv("API_KEYS", "k-at:admin:brand-at,k-ch:ingest:brand-ch")
    settings = Settings.from_env("points")
    assert authenticate({"x-api-key": "k-at"}, settings).shop == "brand-at"
    assert authenticate({"x-api-key": "k-ch"}, settings).kind == "ingest"
