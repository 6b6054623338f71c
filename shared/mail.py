"""Mail to people (invitations, password resets) through a configured SMTP relay.

In dev with no relay configured, the message is written to the log instead, so a developer can
follow the link; outside dev a missing relay makes the request that needs mail fail with a 503 that
says so, never a silently lost mail.
"""

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from shared.errors import ServiceUnavailable

logger = logging.getLogger("credstack.mail")


class MailNotConfigured(ServiceUnavailable):
    pass


@dataclass(frozen=True, slots=True)
class Mailer:
    relay_host: str | None
    relay_port: int
    sender: str
    starttls: bool
    username: str | None
    password: str | None
    dev_log: bool

    def check(self) -> None:
        if not self.relay_host and not self.dev_log:
            raise MailNotConfigured("Set the SMTP relay (CREDSTACK_TAXONOMY_SMTP_HOST): invitations need it.")

    async def send(self, to: str, subject: str, body: str) -> None:
        if not self.relay_host:
            self.check()
            logger.info("mail not sent (dev, no SMTP relay): to=%s subject=%s\n%s", to, subject, body)
            return
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.relay_host, self.relay_port, timeout=10) as relay:
            if self.starttls:
                relay.starttls()
            if self.username:
                relay.login(self.username, self.password or "")
            relay.send_message(message)
