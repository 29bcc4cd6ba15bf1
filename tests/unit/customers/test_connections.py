"""Connections in the domain's words, and their secrets sealed at rest."""

import pytest
from cryptography.fernet import Fernet

from services.customers.platforms import connections
from services.customers.platforms.secrets import SecretsUnreadable, Vault
from shared.errors import BadUserInput


def test_a_shopify_store_is_its_myshopify_domain():
    s = connections.shopify_store(" Store-1.MyShopify.com ", "s3cret", None, None)
    assert (s.domain, s.api_version, s.admin_token) == ("store-1.myshopify.com", "2025-01", None)
    for domain in ("shop.example.com", "a b.myshopify.com", "", ".myshopify.com"):
        with pytest.raises(BadUserInput):
            connections.shopify_store(domain, "s3cret", None, None)
    with pytest.raises(BadUserInput):
        connections.shopify_store("a.myshopify.com", "", None, None)
    with pytest.raises(BadUserInput):
        connections.shopify_store("a.myshopify.com", "x", None, "latest")


def test_a_shopware_shop_is_its_id_and_address():
    s = connections.shopware_shop("sqX6cqHi6hbj", "https://shop.example/", "app-secret", None, None, None)
    assert (s.shop_id, s.shop_url) == ("sqX6cqHi6hbj", "https://shop.example")
    for bad in ({"shop_id": "a b"}, {"url": "ftp://shop"}, {"url": "https://u:p@shop"}, {"client_id": "only-id"},
                {"app_name": "Bad Name"}):
        args = {"shop_id": "sid", "url": "https://shop", "app_secret": "x", "app_name": None, "client_id": None,
                "client_secret": None, **bad}
        with pytest.raises(BadUserInput):
            connections.shopware_shop(**args)


def test_only_live_connections_take_events_but_privacy_requests_always_apply():
    assert connections.takes("ACTIVE", False) and connections.takes("FAILING", False)
    assert not connections.takes("DISCONNECTED", False) and not connections.takes("UNINSTALLED", False)
    assert connections.takes("DISCONNECTED", True) and connections.takes("UNINSTALLED", True)


def test_secrets_are_sealed_opened_and_rotated_to_a_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = Vault((old,)).seal({"webhook_secret": "s3cret", "admin_token": None})
    assert b"s3cret" not in sealed
    assert Vault((old,)).open(sealed) == {"webhook_secret": "s3cret"}
    both = Vault((new, old))  # the new key in front: it encrypts, both decrypt
    resealed = both.reseal(sealed)
    assert Vault((new,)).open(resealed) == {"webhook_secret": "s3cret"}
    with pytest.raises(SecretsUnreadable):
        Vault((new,)).open(sealed)  # the old key dropped before re-encrypting: unreadable, said so
