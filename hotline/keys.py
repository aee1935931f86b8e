"""Every Redis key Hotline uses, in one place.

Each key carries the tenant as a ``{tenant}`` hash tag, so everything one
tenant's call touches lives in one Redis Cluster slot and a Lua script may
touch several of these keys at once.
"""

from __future__ import annotations

PREFIX = "hotline"


def _k(tenant: str, *parts: str) -> str:
    return ":".join((PREFIX, "{" + tenant + "}", *parts))


def split_tenant_key(key: str) -> tuple[str, str] | None:
    """``(tenant, rest)`` of a per-tenant key (the inverse of ``tenant_key``); None for any other key.

    Logs and operator commands name a stream by tenant and short name
    (``intents``), not by its full key.
    """
    head, tag, rest = key.partition(":{")
    tenant, close, tail = rest.partition("}:")
    if head != PREFIX or not tag or not close:
        return None
    return tenant, tail


def intents_stream(tenant: str) -> str:
    """Stream of end-of-call events (trajectory summary + intent), consumed by the flow engine."""
    return _k(tenant, "intents")


def pbx_events_stream(tenant: str) -> str:
    """Stream of normalized PBX events (AMI and ESL) for statistics and lease release."""
    return _k(tenant, "pbx-events")


def caller_history(tenant: str, caller: str) -> str:
    """Sorted set of a caller's recent intents (member: JSON, score: epoch seconds)."""
    return _k(tenant, "history", caller)


def tenant_key(tenant: str, *parts: str) -> str:
    """Any other per-tenant key; rooms add a named function here rather than building strings."""
    return _k(tenant, *parts)


# -- router/ ------------------------------------------------------------------


def route_calls(tenant: str) -> str:
    """Hash call id → ``target|node|pbx|started_ms``: who holds each lease, for release and reconciling."""
    return _k(tenant, "route", "calls")


def route_targets(tenant: str) -> str:
    """Hash of every route target's live state, fields ``<target>:<field>`` (limit, state, breaker...)."""
    return _k(tenant, "route", "targets")


def route_leases(tenant: str, name: str) -> str:
    """Sorted set of the calls a route target carries (member: call id, score: lease expiry in ms).

    The target's name is the last ``:`` part: the Lua scripts read it from there.
    """
    return _k(tenant, "route", "leases", name)


def route_meta(tenant: str) -> str:
    """Hash: digest of the deployed routing config and the target names it loaded."""
    return _k(tenant, "route", "meta")


# -- flows/ -------------------------------------------------------------------


def presence(tenant: str) -> str:
    """Sorted set of people online (member: person id, score: when their presence expires, epoch ms)."""
    return _k(tenant, "presence")


# -- statistics, live monitor and browser sessions (api/stats/, api/ws.py, api/pages/) --------


def stats_calls(tenant: str) -> str:
    """Hash call id → JSON of the call's open offers (queue, trunk, agent...) and how far its events were
    applied, for calls with an open offer: what a PBX event changes."""
    return _k(tenant, "stats", "calls")


def stats_closed(tenant: str) -> str:
    """Sorted set of calls with nothing open (member: call id, score: time of its last event applied): a
    replayed or late event of the call is recognized and ignored. Trimmed by score."""
    return _k(tenant, "stats", "closed")


def stats_live(tenant: str) -> str:
    """Hash ``dimension|name|figure`` → gauge (``waiting``, ``in_use``) of the calls in progress."""
    return _k(tenant, "stats", "live")


def stats_day(tenant: str, day: str) -> str:
    """Hash ``dimension|name|result`` → count of offers that ended on UTC day ``day`` (``YYYYMMDD``)."""
    return _k(tenant, "stats", "day", day)


def stats_dirty(tenant: str) -> str:
    """Set of interval starts (epoch seconds) whose offers changed since their report row was written."""
    return _k(tenant, "stats", "dirty")


def stats_lock(tenant: str) -> str:
    """The node that reads the tenant's PBX events now: one reader at a time keeps each call's events in order."""
    return _k(tenant, "stats", "lock")


def web_session(digest: str) -> str:
    """One browser session (JSON principal + CSRF token), keyed by the SHA-256 of the cookie's random id.

    Not tenant-tagged: the cookie alone must find it. Hashing the id means a
    Redis dump hands out no usable cookie.
    """
    return f"{PREFIX}:web-session:{{{digest}}}"
