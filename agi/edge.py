"""The Asterisk edge as a part of ``hotline serve``: FastAGI server, router state, AMI clients.

Start order matters: the routing config is loaded into Redis before the
FastAGI port opens, so the first call already routes by the deployed
thresholds; on stop the port closes first and running sessions get a grace
period, then the AMI clients stop.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from agi.ami import AmiClient, parse_ami_url
from agi.effects import AsyncEffects, effects_client
from agi.fastagi import FastAgiServer, start_fastagi_server
from hotline.logs import get_logger
from hotline.pbx_voice import PbxVoiceRelay
from hotline.serve import Runtime, StartupError, port_error
from hotline.workers import background
from hotline.yamlconf import ConfigErrors
from ivr.check import load_intents, load_menus
from router.aio import AsyncRouter
from router.decision import RouterUnavailable
from router.check import load_routing_config

__all__ = ["MenuReloader", "asterisk_edge"]

log = get_logger(__name__)
MENU_POLL_S = 2.0


class MenuReloader:
    """Hot-deploys IVR menus: a changed ``conf/ivr/**.yaml`` (edited, or deployed from the config page)
    replaces the server's menus for the next call; a file that fails its check never replaces good ones.
    Calls already running keep the menus they started with."""

    def __init__(self, server: FastAgiServer, conf: Path) -> None:
        self.server, self.conf = server, conf
        self.stamp = self._stamp()

    def _stamp(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in (self.conf / "ivr").rglob("*.yaml")))

    def check_once(self) -> bool:
        """Reload if any menu file changed; True when new menus are in force."""
        stamp = self._stamp()
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        try:
            self.server.menus = load_menus(self.conf)
        except ConfigErrors as exc:
            log.error("IVR menus changed but fail their check; the running menus stay in force", errors=str(exc))
            return False
        log.info("IVR menus reloaded", menus=len(self.server.menus))
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), MENU_POLL_S)
            except TimeoutError:
                await asyncio.to_thread(self.check_once)


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
        gc.freeze()  # long-lived start-up objects out of the collector's way: full collections were the FastAGI p99
        async with background({"ivr-menus": MenuReloader(server, conf).run}):
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
