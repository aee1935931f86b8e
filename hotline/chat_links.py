"""Texts the chat link, off the call path, to callers sent to a ``chat`` diversion or who asked a menu for it.

Strategy: the edges already record the diversion in the call's intent event
(outcome ``diverted``, ``summary.route`` naming the diversion) before the
dialplan plays "link sent" and hangs up; a menu's ``chat_link`` node records
the diversion the caller asked for (``summary.chat_link``) the same way. This
serve part reads each tenant's intent stream in its own consumer group and, for
every event naming a ``chat`` diversion of routing.yaml in either place, queues
one SMS notice in the alerts outbox (``alerts.notices``): one transaction per
batch, the entries acked after it commits. Why there and not on the call: the
call never waits on Twilio; a crash before the commit redelivers the entries
and the outbox's dedup on tenant + call id makes the redelivery send nothing
(nor a second event of the same call, e.g. its main menu's and its
self-service menu's); after the commit the outbox owns the SMS and retries it
through provider outages and restarts.

The group starts at the stream's end when it is first created: deploying this
must not text every caller still in the stream's history. Routing is read at
start, as the Asterisk edge reads it: a changed message needs a restart.

The link carries the call id (``?call=<id>``) so the chat can pick up what the
caller did in the IVR. The SMS goes to the caller id made E.164 by
``hotline.phones`` (a national caller id read in the tenant's ``region``), the
one form Twilio takes; a withheld or unusable one (anonymous, ``0000000000``,
an internal extension, a national id with no region set) sends nothing and the
call id and reason are logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.notices import Notice, NoticeStats, queue_notices
from hotline.call_log import intent_events
from hotline.db import session_factory
from hotline.keys import intents_stream
from hotline.logs import get_logger
from hotline.models.base import utcnow
from hotline.phones import NotAPhone, e164
from hotline.serve import Runtime, StartupError
from hotline.streams import Entry, StreamConsumer
from hotline.workers import Worker, background
from hotline.yamlconf import ConfigErrors
from ivr.events import IntentEvent
from ivr.trajectory import Outcome
from router.check import load_routing_config
from router.model import Diversion, DiversionKind, RouteKind, TenantRouting

__all__ = ["CALL_PARAM", "GROUP", "ChatLinks", "chat_diversion", "chat_links", "tagged_link"]

log = get_logger(__name__)
GROUP = "chat-links"
CALL_PARAM = "call"


def chat_diversion(routing: TenantRouting, event: IntentEvent) -> Diversion | None:
    """The chat diversion whose link the caller gets: the one the router diverted the call to, else the one a
    menu's ``chat_link`` node asked for; None when neither names a chat diversion."""
    route = event.summary.get("route") or {}
    diverted = event.outcome is Outcome.DIVERTED and route.get("kind") == RouteKind.DIVERSION
    for name in (route.get("name") if diverted else None, event.summary.get("chat_link")):
        diversion = routing.chat(name) if name else None
        if diversion is not None:
            return diversion
    return None


def tagged_link(target: str, call_id: str) -> str:
    """``target`` with the call id added to its query, so the chat can find the call."""
    parts = urlsplit(target)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), (CALL_PARAM, call_id)])
    return urlunsplit(parts._replace(query=query))


class ChatLinks:
    """One tenant's stream handler: a batch of intent events in, its chat link notices queued in one transaction."""

    def __init__(self, routing: TenantRouting, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.routing = routing
        self.sessions = sessions
        self.clock = clock

    def _notice(self, event: IntentEvent, skips: list[tuple[str, str]]) -> Notice | None:
        diversion = chat_diversion(self.routing, event)
        if diversion is None:
            return None
        try:
            number = e164(event.caller, self.routing.region)
        except NotAPhone as exc:
            reason = f"caller id {exc}"
            skips.append((event.call_id, reason))
            log.info("chat link not sent", tenant=event.tenant, call_id=event.call_id, reason=reason)
            return None
        text = diversion.sms_text(tagged_link(diversion.target, event.call_id))
        return Notice(event.tenant, event.call_id, number, text, timedelta(seconds=diversion.sms_quiet_s))

    async def handle(self, entries: list[Entry]) -> NoticeStats:
        """Queue the batch's chat links; returns what was queued and why the others were not."""
        skips: list[tuple[str, str]] = []
        notices = [n for n in (self._notice(e, skips) for e in intent_events(entries)) if n is not None]
        stats = NoticeStats()
        if notices:
            async with self.sessions.begin() as session:
                stats = await queue_notices(session, notices, now=self.clock())
            log.info("chat links queued", tenant=notices[0].tenant, queued=stats.queued, left_out=len(stats.skips))
        stats.skips[:0] = skips
        return stats


def _worker(runtime: Runtime, tenant: str, links: ChatLinks) -> Worker:
    consumer = StreamConsumer(runtime.redis, intents_stream(tenant), GROUP, runtime.settings.node_name, start="$")

    async def handle(entries: list[Entry]) -> None:
        await links.handle(entries)

    async def run(stop: asyncio.Event) -> None:
        await consumer.run(handle, stop)

    return run


@asynccontextmanager
async def chat_links(runtime: Runtime) -> AsyncIterator[None]:
    """Serve part: one consumer per tenant whose routing has a chat diversion."""
    try:
        config = load_routing_config(runtime.settings.conf_dir)
    except ConfigErrors as exc:
        raise StartupError(f"cannot send chat links, fix the routing configuration first:\n{exc}") from exc
    sessions = session_factory(runtime.engine)
    workers = {
        f"chat-links:{tenant}": _worker(runtime, tenant, ChatLinks(routing, sessions))
        for tenant, routing in config.tenants.items()
        if any(d.kind is DiversionKind.CHAT for d in routing.diversions)
    }
    async with background(workers):
        yield
