"""Channels: the signature of webhook POSTs."""

import hashlib
import hmac

from services.notifications.channels import sign


def test_webhook_signature_covers_timestamp_and_body():
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", b"{}") == f"sha256={expected}"
    assert sign("k", "1700000001", b"{}") != sign("k", "1700000000", b"{}")
