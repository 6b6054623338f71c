"""Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature, HMAC-SHA256) for the events
the services send each other and HRIS systems; signing and checking go through the reference
`standardwebhooks` library, so our senders and receivers agree with everyone else's."""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.errors import PayloadTooLarge, Unauthorized

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks secret prefix, not a secret
MAX_WEBHOOK_BODY_BYTES = 1_048_576


def generate_webhook_secret() -> str:
    """A new subscription secret (shown once to the subscriber)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, message_id: str, body: str, *, sent_at: datetime | None = None) -> dict[str, str]:
    """The three headers a delivery carries; `body` is the exact text sent."""
    sent_at = sent_at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, sent_at, body),
        "content-type": "application/json",
    }


def verified_payload(secret: str, body: bytes, headers: dict[str, str]) -> tuple[str, object]:
    """(message id, parsed JSON) of a delivery whose signature and timestamp (±5 min) check out;
    401 otherwise. Receivers deduplicate on the returned id."""
    if len(body) > MAX_WEBHOOK_BODY_BYTES:
        raise PayloadTooLarge(f"The webhook body exceeds the limit of {MAX_WEBHOOK_BODY_BYTES} bytes.")
    try:
        payload = Webhook(secret).verify(body, headers)
    except (WebhookVerificationError, ValueError) as exc:
        raise Unauthorized(f"Webhook signature check failed: {exc}.") from exc
    return {k.lower(): v for k, v in headers.items()}["webhook-id"], payload
