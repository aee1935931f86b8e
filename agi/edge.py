"""The Asterisk edge as a part of ``hotline serve``: FastAGI server, router state, AMI clients.

Start order matters: the routing config is loaded into Redis before the
FastAGI port opens, so the first call already routes by the deployed
thresholds; on stop the port closes first and running sessions get a grace
period, then the AMI clients stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agi.ami import AmiClient, parse_ami_url
from agi.effects import AsyncEffects, effects_client
from agi.fastagi import start_fastagi_server
from hotline.logs import get_logger
from hotline.pbx_voice import PbxVoiceRelay
from hotline.serve import Runtime, StartupError, port_error
from hotline.workers import Worker, background
from hotline.yamlconf import ConfigErrors
from ivr.check import load_intents, load_menus
from ivr.reload import POLL_S, MenuReloader
from router.aio import AsyncRouter
from router.check import load_routing_config
from router.decision import RouterUnavailable

__all__ = ["asterisk_edge"]

log = get_logger(__name__)


def _menu_worker(reloader: MenuReloader) -> Worker:
    """The reloader as a ``background`` worker: the stat calls and the load run in a thread, off the event loop."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), POLL_S)
            except TimeoutError:
                await asyncio.to_thread(reloader.check_once)

    return run


@asynccontextmanager
async def asterisk_edge(runtime: Runtime, *, voice: PbxVoiceRelay | None = None) -> AsyncIterator[None]:
    """The part; ``voice`` (voice alerts) gets the first AMI connection that has an Asterisk trunk."""
    settings = runtime.settings
    conf = settings.conf_dir
    try:
        menus, rules, routing = load_menus(conf), load_intents(conf), load_routing_config(conf)
    except ConfigErrors as exc:
        raise StartupError(f"cannot start the Asterisk edge, fix the configuration first:\n{exc}") from exc
    router = AsyncRouter.from_url(runtime.redis_url, routing, node=settings.node_name)
    effects = AsyncEffects(router, effects_client(runtime.redis_url), rules)
    amis: list[AmiClient] = []
    server = None
    try:
        try:
            deployed = await router.load()
        except RouterUnavailable as exc:
            raise StartupError(f"cannot load the routing configuration into Redis: {exc}") from exc
        log.info("routing loaded into Redis", tenants=",".join(deployed))
        try:
            server = await start_fastagi_server(settings.agi_host, settings.agi_port, effects=effects, menus=menus)
        except OSError as exc:
            raise port_error("FastAGI", settings.agi_host, settings.agi_port, "HOTLINE_AGI_PORT", exc) from exc
        urls = settings.ami_urls.get_secret_value().split(",") if settings.ami_urls else []
        amis = [AmiClient(parse_ami_url(url.strip()), runtime.redis, router=router) for url in urls if url.strip()]
        for ami in amis:
            await ami.start()
            if voice is not None and voice.ami is None:
                voice.attach_ami(ami, routing)
        async with background({"ivr-menus": _menu_worker(MenuReloader(server, conf))}):
            yield
    finally:
        if voice is not None:
            voice.detach()
        if server is not None:
            await server.close()
        for ami in amis:
            await ami.close()
        await effects.redis.aclose()
        await router.client.aclose()
