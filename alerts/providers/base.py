"""What every alert provider is: one small typed Protocol, and the two ways it can fail.

Strategy: a provider turns one ``Notification`` into one message on one
channel and returns a ``Receipt``, or raises ``TryLater`` (a transient fault:
the outbox retries with backoff, honouring ``after``) or ``GiveUp`` (this
channel will not work for this alert: the outbox fails over to the next
channel). ``GiveUp.fault`` tells whose fault it is: ``theirs`` (the provider
or the recipient refused; the reason can be shown to people) or ``ours``
(configuration or credentials; an operator must act). Library exceptions are
translated inside each provider module, in one function, ``raise ... from``.
The outbox counts attempts; providers never retry on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from alerts.errors import AlertsError
from alerts.plan import Channel

__all__ = ["AlertProvider", "Fault", "GiveUp", "Notification", "ProviderError", "ProviderFlags", "Receipt", "TryLater"]


@dataclass(frozen=True, slots=True)
class Notification:
    """Everything a provider needs to send one alert; built by the outbox from its row."""

    alert_id: int
    tenant: str
    task_id: str
    level: int
    recipient: str
    recipient_name: str
    channel: Channel
    address: str
    subject: str
    text: str
    link: str | None = None
    ack_code: str = ""
    ack_url: str | None = None
    #: Public base URL of this server for provider callbacks (Twilio status and keypresses); None = no callbacks.
    callback_base: str | None = None

    @property
    def dedup_key(self) -> str:
        """The idempotency key, also handed to providers that can use one (e-mail Message-ID)."""
        return f"{self.tenant}/{self.task_id}/L{self.level}/{self.recipient}/{self.channel}"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A provider accepted the alert. ``delivered`` when acceptance is delivery (no callback will come)."""

    provider_id: str | None = None
    delivered: bool = False


@dataclass(frozen=True, slots=True)
class ProviderFlags:
    """What a provider can do beyond sending, for the UI and for the outbox."""

    delivery_callbacks: bool = False
    keypress_ack: bool = False
    reply_ack: bool = False


class Fault(StrEnum):
    THEIRS = "theirs"
    OURS = "ours"


class ProviderError(AlertsError):
    """Base of the two outcomes a provider may raise instead of returning a Receipt."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TryLater(ProviderError):
    """A transient fault (timeout, 5xx, throttled); ``after`` is the provider's own wait in seconds, if it gave one."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class GiveUp(ProviderError):
    """This channel will not deliver this alert; the outbox fails over to the next channel."""

    def __init__(self, reason: str, fault: Fault = Fault.THEIRS) -> None:
        super().__init__(reason)
        self.fault = fault


@runtime_checkable
class AlertProvider(Protocol):
    """One channel's sender. ``send`` returns a Receipt or raises TryLater / GiveUp; anything else is a bug."""

    channel: Channel
    flags: ProviderFlags

    async def send(self, note: Notification) -> Receipt: ...

    async def aclose(self) -> None: ...
