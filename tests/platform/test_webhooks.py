"""Webhook signatures follow Standard Webhooks: checked here against an HMAC computed by hand."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import Unauthorized
from shared.webhooks import generate_webhook_secret, signed_headers, verified_payload


def test_signature_is_hmac_sha256_of_id_timestamp_and_body():
    secret = generate_webhook_secret()
    body = json.dumps({"type": "credential.issued", "data": {"id": "urn:uuid:1"}})
    sent_at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    headers = signed_headers(secret, "msg_1", body, sent_at=sent_at)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, f"msg_1.{int(sent_at.timestamp())}.{body}".encode(), hashlib.sha256).digest()
    )
    assert headers["webhook-signature"] == "v1," + expected.decode()
    assert headers["webhook-timestamp"] == str(int(sent_at.timestamp()))


def test_a_fresh_delivery_verifies_and_a_tampered_stale_or_foreign_one_does_not():
    secret = generate_webhook_secret()
    body = json.dumps({"type": "credential.revoked"})
    headers = signed_headers(secret, "msg_2", body)
    message_id, payload = verified_payload(secret, body.encode(), headers)
    assert message_id == "msg_2" and payload == {"type": "credential.revoked"}
    with pytest.raises(Unauthorized):
        verified_payload(secret, body.replace("revoked", "issued").encode(), headers)
    with pytest.raises(Unauthorized):
        verified_payload(generate_webhook_secret(), body.encode(), headers)
    stale = signed_headers(secret, "msg_3", body, sent_at=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(Unauthorized):
        verified_payload(secret, body.encode(), stale)
    with pytest.raises(Unauthorized):
        verified_payload(secret, body.encode(), {"webhook-id": "x"})
