"""The reference provider: writes the alert to the log and keeps it in memory.

It shows the whole contract in a dozen lines, stands in for channels with no
provider configured (``unconfigured: log`` in alerts.yaml), and lets tests see
what was "sent".
"""

from __future__ import annotations

from alerts.plan import Channel
from alerts.providers.base import Notification, ProviderFlags, Receipt
from hotline.logs import get_logger

__all__ = ["LogProvider"]

log = get_logger(__name__)


class LogProvider:
    flags = ProviderFlags()

    def __init__(self, channel: Channel = Channel.LOG) -> None:
        self.channel = channel
        self.sent: list[Notification] = []

    async def send(self, note: Notification) -> Receipt:
        self.sent.append(note)
        log.warning("alert written to the log (no provider for this channel)", channel=note.channel,
                    to=note.address, subject=note.subject, text=note.text, ack_code=note.ack_code)
        return Receipt(provider_id=f"log-{note.alert_id}", delivered=True)

    async def aclose(self) -> None:
        return None
