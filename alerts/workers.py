"""The serve part: the SLA clock and the outbox dispatcher, started and stopped with the process.

``alert_workers(runtime)`` is an async context manager (see ``hotline.serve``):
it loads alerts.yaml and calendars.yaml (a bad file stops start-up with its
file:line), builds the providers from settings, runs both loops under
``hotline.workers.background`` (restarted if one crashes) and, on exit, lets
a send in flight finish (up to the send timeout) before cancelling. Nothing
is lost by stopping: due rows stay in SQL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alerts.acklinks import AckLinks
from alerts.clock import RecipientResolver, SlaClock
from alerts.config import load_alerts_conf, load_calendars
from alerts.outbox import Outbox
from alerts.providers.pbx_voice import Originator
from alerts.providers.registry import build_providers
from hotline.db import session_factory
from hotline.logs import get_logger
from hotline.serve import Runtime, StartupError
from hotline.workers import background
from hotline.yamlconf import ConfigErrors

__all__ = ["alert_workers"]

log = get_logger(__name__)


@asynccontextmanager
async def alert_workers(runtime: Runtime, *, originate: Originator | None = None,
                        resolver: RecipientResolver | None = None) -> AsyncIterator[None]:
    """The part; ``resolver`` names recipients of levels frozen as people rules (the flow engine's
    ``recipients_for``), ``originate`` places PBX calls (the edges' AMI/ESL client)."""
    settings = runtime.settings
    try:
        conf = load_alerts_conf(settings.conf_dir)
        calendars = load_calendars(settings.conf_dir)
    except ConfigErrors as exc:
        raise StartupError(f"alerts configuration: {exc}") from exc
    if settings.secret_key is None:
        log.warning("no secret_key: alert e-mail and WeCom carry no acknowledgement link (set HOTLINE_SECRET_KEY)")
    links = (AckLinks(settings.secret_key.get_secret_value().encode(), settings.public_base_url, conf.ack_link_ttl)
             if settings.secret_key else None)
    sessions = session_factory(runtime.engine)
    providers = build_providers(settings, conf, originate=originate)
    outbox = Outbox(sessions, providers, conf, worker=f"{settings.node_name}:{os.getpid()}", links=links,
                    callback_base=settings.public_base_url)
    clock = SlaClock(sessions, conf, calendars=calendars, resolver=resolver, on_fired=outbox.wake.set)
    log.info("alert workers starting", providers=",".join(sorted(str(c) for c in providers.providers)))
    try:
        async with background({"sla-clock": clock.run, "alert-outbox": outbox.run},
                              grace_s=conf.retry.send_timeout.total_seconds() + 1):
            yield
    finally:
        await providers.aclose()
