"""FreeSWITCH events mapped onto ``hotline.pbx_events.PbxEvent`` (the shape AMI events get too).

Strategy: one small function per event name in ``NORMALIZERS`` (CUSTOM
``callcenter::info`` by its ``CC-Action``); everything else maps to ``None``
and is dropped. Header names are FreeSWITCH 1.10's as recorded in
tests/transcripts/esl-inbound.txt. ``cause`` of a hang-up is the Q.850 code
(``variable_hangup_cause_q850``), as Asterisk's ``Cause``; the cause name
stays in ``raw``. The tenant is the channel's ``hotline_tenant`` variable when
it is a valid tenant name, else the connection's default tenant.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from esl.framing import Event
from hotline.pbx_events import PbxEvent, PbxEventKind

__all__ = ["NORMALIZERS", "TENANT_NAME", "normalize"]

K = PbxEventKind
Mapped = tuple[PbxEventKind, dict[str, str]] | None
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _hangup(e: Event) -> Mapped:
    return K.HANGUP, {"cause": e.get("variable_hangup_cause_q850") or e.get("Hangup-Cause")}


def _dtmf(e: Event) -> Mapped:
    return K.DTMF, {"digit": e.get("DTMF-Digit")}


def _job(e: Event) -> Mapped:
    if e.get("Job-Command") != "originate":
        return None
    first = e.body.strip().split(" ", 1)
    return K.ORIGINATE_RESULT, {"cause": "OK" if first[0] == "+OK" else (first[1] if len(first) > 1 else first[0]),
                                "call_id": first[1] if first[0] == "+OK" and len(first) > 1 else ""}


def _callcenter(e: Event) -> Mapped:
    action = e.get("CC-Action")
    fields = {"queue": e.get("CC-Queue"), "call_id": e.get("CC-Member-Session-UUID") or e.unique_id,
              "caller": e.get("CC-Member-CID-Number")}
    if action == "member-queue-start":
        return K.QUEUE_JOIN, fields
    if action == "member-queue-end":
        return (K.QUEUE_ABANDON if e.get("CC-Cause") == "Cancel" else K.QUEUE_LEAVE), fields
    if action == "bridge-agent-start":
        return K.AGENT_CONNECT, fields
    return None


NORMALIZERS: dict[str, Callable[[Event], Mapped]] = {
    "CHANNEL_CREATE": lambda e: (PbxEventKind.CHANNEL_CREATED, {}),
    "CHANNEL_ANSWER": lambda e: (PbxEventKind.ANSWERED, {}),
    "CHANNEL_HANGUP_COMPLETE": _hangup,
    "DTMF": _dtmf,
    "BACKGROUND_JOB": _job,
    "callcenter::info": _callcenter,
}


def tenant_of(event: Event, default: str) -> str:
    tenant = event.get("variable_hotline_tenant")
    return tenant if tenant and TENANT_NAME.fullmatch(tenant) else default


def normalize(event: Event, *, tenant: str, pbx: str, now: float) -> PbxEvent | None:
    """The ``PbxEvent`` for one FreeSWITCH event, or ``None`` when it is not one we keep.

    ``tenant`` is the default; ``now`` is used when ``Event-Date-Timestamp`` (µs) is missing.
    """
    key = event.subclass if event.name == "CUSTOM" else event.name
    normalizer = NORMALIZERS.get(key)
    mapped = normalizer(event) if normalizer else None
    if mapped is None:
        return None
    kind, fields = mapped
    stamp = event.get("Event-Date-Timestamp")
    ts = int(stamp) / 1_000_000 if stamp.isdigit() else now
    return PbxEvent(
        tenant=tenant_of(event, tenant), pbx=pbx, kind=kind,
        call_id=fields.pop("call_id", "") or event.unique_id, ts=ts,
        linkedid=event.get("Channel-Call-UUID") or event.get("variable_call_uuid"),
        channel=event.get("Channel-Name"), caller=fields.pop("caller", "") or event.get("Caller-Caller-ID-Number"),
        exten=event.get("Caller-Destination-Number"), raw={**event.headers, **({"_body": event.body} if event.body else {})},
        **fields,
    )
