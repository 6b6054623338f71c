"""The JSON logs carry what a service did, not one line per request it sent (httpx logs each at INFO)."""

import logging

from shared.observability import configure_logging


def test_outgoing_requests_are_not_logged_at_info_but_their_failures_are() -> None:
    configure_logging("INFO")
    client_log = logging.getLogger("httpx")
    assert not client_log.isEnabledFor(logging.INFO)
    assert client_log.isEnabledFor(logging.WARNING)
    assert logging.getLogger("credstack.errors").isEnabledFor(logging.INFO)
