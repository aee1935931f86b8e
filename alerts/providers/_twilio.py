"""The Twilio REST client both Twilio providers share, and the one place its errors are translated.

The client is twilio-python's, with its asyncio HTTP client and the API base
URL taken from settings (``twilio_api_base_url``), so tests and regional or
proxy deployments point it elsewhere. The library's own retries stay off: the
outbox counts attempts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from alerts.paths import STATUS_PATH
from alerts.providers.base import Fault, GiveUp, TryLater

__all__ = ["callback_url", "close_client", "make_client", "translate"]

#: Twilio error codes that are our configuration (bad credentials, bad From number, account problems).
_OURS = {20003, 20005, 20404, 21212, 21606, 21659, 21660, 21603, 21219}


class _TimedHttpClient(AsyncTwilioHttpClient):
    """twilio-python 9's async client ignores its own ``timeout`` (only a per-call one reaches aiohttp);
    this enforces it around every request, so a hung API fails as a timeout instead of hanging."""

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(super().request(*args, **kwargs), self.timeout)


def make_client(account_sid: str, auth_token: str, base_url: str, *, timeout: float = 10.0) -> Client:
    """A twilio Client on aiohttp whose API domain is ``base_url`` (e.g. https://api.twilio.com)."""
    client = Client(account_sid, auth_token, http_client=_TimedHttpClient(timeout=timeout))
    client.api.base_url = base_url.rstrip("/")
    return client


def callback_url(base: str | None, path: str, alert_id: int) -> str | None:
    return f"{base.rstrip('/')}{path}?alert={alert_id}" if base else None


def translate(exc: Exception, what: str) -> TryLater | GiveUp:
    """Twilio's REST errors and transport faults → TryLater (transient) or GiveUp (with whose fault)."""
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        status, code = int(exc.status), getattr(exc, "code", None)
        message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "") or ""
        text = f"Twilio {what}: HTTP {status}, code {code}: {message}"
        if status == 429 or status >= 500:
            return TryLater(text)
        if status in (401, 403) or code in _OURS:
            return GiveUp(text + " (check twilio_account_sid / HOTLINE_TWILIO_AUTH_TOKEN / from numbers)", Fault.OURS)
        return GiveUp(text)
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return TryLater(f"Twilio {what}: API unreachable: {exc!r}")
    if isinstance(exc, TwilioException):
        return TryLater(f"Twilio {what}: {exc}")
    raise TypeError(f"not a Twilio or transport error: {exc!r}")  # a bug: let the outbox log it loudly


async def close_client(client: Client) -> None:
    http = client.http_client
    if isinstance(http, AsyncTwilioHttpClient):
        await http.close()


#: What a Twilio REST call may raise: ``translate`` turns each into TryLater or GiveUp.
TWILIO_FAULTS = (TwilioException, aiohttp.ClientError, asyncio.TimeoutError, OSError)


class TwilioProvider:
    """What the SMS and voice providers share: the client, the sender number, status callbacks, closing."""

    def __init__(self, client: Client, from_number: str, *, owns_client: bool = True) -> None:
        self.client = client
        self.from_number = from_number
        self.owns_client = owns_client

    @staticmethod
    def status_kwargs(callback_base: str | None, alert_id: int) -> dict[str, str]:
        """``status_callback`` when this server has a public URL, so Twilio reports delivery."""
        status = callback_url(callback_base, STATUS_PATH, alert_id)
        return {"status_callback": status} if status else {}

    async def aclose(self) -> None:
        if self.owns_client:
            await close_client(self.client)
