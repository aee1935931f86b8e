"""Asterisk AMI events mapped onto ``hotline.pbx_events.PbxEvent``.

Strategy: one small function per AMI event name in ``NORMALIZERS``; events not
listed (VarSet, Newexten, AGIExecStart, ... the bulk of the traffic) map to
``None`` and are dropped, since nothing downstream reads them. Field names are
Asterisk 22's (``Uniqueid``, ``Linkedid``, ``CallerIDNum``, ``Cause``,
``DialStatus``, ``Digit``...), as recorded in tests/transcripts/ami.txt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hotline.pbx_events import PbxEvent, PbxEventKind

__all__ = ["NORMALIZERS", "normalize"]

K = PbxEventKind
_UNKNOWN = {"<unknown>", "unknown"}
Fields = dict[str, str]


def _newstate(h: Mapping[str, str]) -> tuple[PbxEventKind, Fields] | None:
    return (PbxEventKind.ANSWERED, {}) if h.get("ChannelState") == "6" else None


def _dtmf(h: Mapping[str, str]) -> tuple[PbxEventKind, Fields] | None:
    return (PbxEventKind.DTMF, {"digit": h.get("Digit", "")}) if h.get("Direction", "Received") == "Received" else None


def _simple(kind: PbxEventKind, **fields: str) -> Callable[[Mapping[str, str]], tuple[PbxEventKind, Fields]]:
    """``fields`` maps PbxEvent field -> AMI header."""

    def normalizer(h: Mapping[str, str]) -> tuple[PbxEventKind, Fields]:
        return kind, {name: h.get(header, "") for name, header in fields.items()}

    return normalizer


NORMALIZERS: dict[str, Callable[[Mapping[str, str]], tuple[PbxEventKind, Fields] | None]] = {
    "Newchannel": _simple(K.CHANNEL_CREATED),
    "Newstate": _newstate,
    "Hangup": _simple(K.HANGUP, cause="Cause"),
    "DialBegin": _simple(K.DIAL_BEGIN, exten="DialString"),
    "DialEnd": _simple(K.DIAL_END, cause="DialStatus"),
    "BridgeEnter": _simple(K.BRIDGE_ENTER),
    "QueueCallerJoin": _simple(K.QUEUE_JOIN, queue="Queue"),
    "QueueCallerAbandon": _simple(K.QUEUE_ABANDON, queue="Queue"),
    "QueueCallerLeave": _simple(K.QUEUE_LEAVE, queue="Queue"),
    "AgentConnect": _simple(K.AGENT_CONNECT, queue="Queue"),
    "DTMFEnd": _dtmf,
    "OriginateResponse": _simple(K.ORIGINATE_RESULT, cause="Reason"),
}
del K


def normalize(headers: Mapping[str, str], *, tenant: str, pbx: str, now: float) -> PbxEvent | None:
    """The ``PbxEvent`` for one AMI event, or ``None`` when it is not one we keep.

    ``now`` is used unless the event carries ``Timestamp`` (``timestampevents=yes``).
    """
    name = headers.get("Event", "")
    normalizer = NORMALIZERS.get(name)
    mapped = normalizer(headers) if normalizer else None
    if mapped is None:
        return None
    kind, fields = mapped
    caller = headers.get("CallerIDNum", "")
    try:
        ts = float(headers.get("Timestamp") or now)
    except ValueError:
        ts = now
    return PbxEvent(
        tenant=tenant,
        pbx=pbx,
        kind=kind,
        call_id=headers.get("Uniqueid", ""),
        ts=ts,
        linkedid=headers.get("Linkedid", ""),
        channel=headers.get("Channel", ""),
        caller="" if caller in _UNKNOWN else caller,
        exten=fields.pop("exten", "") or headers.get("Exten", ""),
        raw=dict(headers),
        **fields,
    )
