"""Phone calls through our own PBX: Asterisk AMI ``Originate`` or FreeSWITCH ESL ``bgapi originate``.

The edges (``agi/ami.py``, ``esl/``) own the PBX connections and may not
import this room, so the PBX is reached through one callable, wired in by
``hotline/`` at start-up::

    async def originate(number: str, message: str) -> str | None
        # place a call to ``number`` that speaks ``message``; return the PBX's
        # call or job id, or None. Raise OriginateError(reason, transient=...)
        # when the PBX refused, or ConnectionError / TimeoutError when it could
        # not be reached.

On Asterisk that is an AMI ``Originate`` (Channel ``PJSIP/<number>@<trunk>``,
Application ``Playback``/``AGI`` with the message in a channel variable,
``Async: true``); on FreeSWITCH ``bgapi originate {origination_caller_id_number=...}
sofia/gateway/<gw>/<number> &speak(...)``. Acknowledging by key on PBX
calls is not wired yet: the dialplan would need the alert id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from alerts.errors import AlertsError
from alerts.messages import voice_text
from alerts.plan import Channel
from alerts.providers.base import GiveUp, Notification, ProviderFlags, Receipt, TryLater

__all__ = ["OriginateError", "Originator", "PbxVoiceProvider"]


class OriginateError(AlertsError):
    """The PBX refused to originate; ``transient`` when trying again later may work (busy trunk, overload)."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class Originator(Protocol):
    def __call__(self, number: str, message: str) -> Awaitable[str | None]: ...


class PbxVoiceProvider:
    channel = Channel.PBX_VOICE
    flags = ProviderFlags()

    def __init__(self, originate: Originator) -> None:
        self.originate = originate

    async def send(self, note: Notification) -> Receipt:
        try:
            call_id = await self.originate(note.address, voice_text(note))
        except OriginateError as exc:
            if exc.transient:
                raise TryLater(f"PBX originate: {exc.reason}") from exc
            raise GiveUp(f"PBX originate refused: {exc.reason}") from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise TryLater(f"PBX unreachable: {exc!r}") from exc
        return Receipt(provider_id=call_id or f"pbx-{note.alert_id}")

    async def aclose(self) -> None:
        return None
