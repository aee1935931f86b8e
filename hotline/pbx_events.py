"""One shape for call events from any PBX (Asterisk AMI today, FreeSWITCH ESL later).

Strategy: each edge maps its own events (AMI ``Hangup``, ESL
``CHANNEL_HANGUP_COMPLETE``...) onto ``PbxEvent`` and appends it to the
tenant's stream ``hotline.keys.pbx_events_stream(tenant)``. Consumers
(statistics, lease release, the monitor page) read only this shape. Stream
fields are flat strings; ``raw`` (the PBX's own headers) travels as JSON so
nothing is lost for debugging, and ``from_fields`` reads an entry back.

An event's identity is its fields, not its stream entry: ``hotline streams
replay`` and a producer retrying an XADD whose reply was lost both add the
very same fields again under a new entry id. ``fingerprint`` names that
identity, so a consumer can recognize an event it has already applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import blake2b
from typing import Any

__all__ = ["REPLAY_WINDOW_S", "STREAM_MAXLEN", "PbxEvent", "PbxEventKind", "fingerprint"]

#: Entries kept per tenant stream (approximate trimming, as XADD MAXLEN ~).
STREAM_MAXLEN = 100_000
#: How long after a call's last event its consumers still recognize a replayed or repeated event of that call:
#: dead letters wait for an operator to fix their cause, which may take a long weekend and then some.
REPLAY_WINDOW_S = 7 * 86_400


def fingerprint(fields: Mapping[str, str]) -> str:
    """The identity of the event stored as ``fields`` (a stream entry's, or ``to_fields()``): 16 hex digits.

    Every field counts (``raw`` too: two dials of one call may differ only
    in their ``DestUniqueid``); each is length-prefixed so no two different
    entries hash the same text.
    """
    text = "".join(f"{len(k)}:{k}{len(v)}:{v}" for k, v in sorted(fields.items()))
    return blake2b(text.encode(), digest_size=8).hexdigest()


class PbxEventKind(StrEnum):
    """What happened; the comments name the Asterisk AMI event each kind comes from."""

    CHANNEL_CREATED = "channel_created"  # Newchannel
    ANSWERED = "answered"  # Newstate with ChannelState 6 (Up)
    HANGUP = "hangup"  # Hangup (cause: Q.850 code); also the dialplan's h extension via FastAGI
    DIAL_BEGIN = "dial_begin"  # DialBegin (exten: dial string)
    DIAL_END = "dial_end"  # DialEnd (cause: DialStatus, e.g. ANSWER, BUSY, NOANSWER)
    BRIDGE_ENTER = "bridge_enter"  # BridgeEnter
    QUEUE_JOIN = "queue_join"  # QueueCallerJoin
    QUEUE_ABANDON = "queue_abandon"  # QueueCallerAbandon
    QUEUE_LEAVE = "queue_leave"  # QueueCallerLeave
    AGENT_CONNECT = "agent_connect"  # AgentConnect
    DTMF = "dtmf"  # DTMFEnd, direction Received
    ORIGINATE_RESULT = "originate_result"  # OriginateResponse (cause: Reason)


@dataclass(frozen=True, slots=True)
class PbxEvent:
    """A call event, PBX-neutral. Empty string means "not given" for every text field."""

    tenant: str
    pbx: str  # name of the PBX connection the event came from
    kind: PbxEventKind
    call_id: str  # the channel's unique id (Asterisk Uniqueid, FreeSWITCH Unique-ID)
    ts: float  # seconds since the epoch
    linkedid: str = ""
    channel: str = ""
    caller: str = ""
    exten: str = ""
    cause: str = ""
    digit: str = ""
    queue: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def to_fields(self) -> dict[str, str]:
        """Flat fields for XADD."""
        return {
            "tenant": self.tenant,
            "pbx": self.pbx,
            "kind": str(self.kind),
            "call_id": self.call_id,
            "ts": f"{self.ts:.6f}",
            "linkedid": self.linkedid,
            "channel": self.channel,
            "caller": self.caller,
            "exten": self.exten,
            "cause": self.cause,
            "digit": self.digit,
            "queue": self.queue,
            "raw": json.dumps(self.raw, ensure_ascii=False, separators=(",", ":")),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> PbxEvent:
        """Inverse of ``to_fields`` (fields already decoded to text)."""
        values = dict(fields)
        return cls(
            tenant=values["tenant"],
            pbx=values["pbx"],
            kind=PbxEventKind(values["kind"]),
            call_id=values["call_id"],
            ts=float(values["ts"]),
            linkedid=values.get("linkedid", ""),
            channel=values.get("channel", ""),
            caller=values.get("caller", ""),
            exten=values.get("exten", ""),
            cause=values.get("cause", ""),
            digit=values.get("digit", ""),
            queue=values.get("queue", ""),
            raw=json.loads(values.get("raw") or "{}"),
        )
