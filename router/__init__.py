"""Hotline router room: trunks, thresholds, leases, overflow, diversion, degradation (see ARCHITECTURE.md).

The edges use ``Router`` (blocking: spawned AGI script, gevent ESL) or
``AsyncRouter`` (FastAGI, serve, API); both answer ``decide`` with a
``Decision`` in one Redis round trip, or locally when Redis is unusable.
"""

from router.aio import AsyncRouter, async_routing_client
from router.check import check_routing, load_routing_config
from router.decision import Decision, Reason, RouterError, RouterMisuse, RouterUnavailable, UnknownName
from router.model import Breaker, Level, RouteKind, RoutingConfig, Source, TrunkState
from router.plan import TargetStatus
from router.sync import Router, routing_client

__all__ = [
    "AsyncRouter",
    "Breaker",
    "Decision",
    "Level",
    "Reason",
    "RouteKind",
    "Router",
    "RouterError",
    "RouterMisuse",
    "RouterUnavailable",
    "RoutingConfig",
    "Source",
    "TargetStatus",
    "TrunkState",
    "UnknownName",
    "async_routing_client",
    "check_routing",
    "load_routing_config",
    "routing_client",
]
