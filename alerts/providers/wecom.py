"""WeCom (企业微信) group robot: a markdown message to the group, @mentioning the recipient.

The robot answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` on success
and a non-zero ``errcode`` otherwise: 45009 (rate limit, 20 messages a minute
per robot) and -1 (system busy) are worth retrying; 93000 / 40008 / 40058 /
93004 and friends mean the key or the message is wrong, which no retry fixes.
"""

from __future__ import annotations

import asyncio

import aiohttp

from alerts.messages import wecom_markdown
from alerts.plan import Channel
from alerts.providers.base import Fault, GiveUp, Notification, ProviderFlags, Receipt, TryLater

__all__ = ["WeComProvider"]

_RETRY_CODES = {-1: 5.0, 45009: 60.0, 45033: 10.0}
_OUR_CODES = {93000, 93004, 40008, 40058, 40013, 40014, 301002}


class WeComProvider:
    channel = Channel.WECOM
    flags = ProviderFlags()

    def __init__(self, session: aiohttp.ClientSession, webhook_url: str, key: str, *, timeout: float = 10.0) -> None:
        self.session = session
        self.webhook_url = webhook_url
        self.key = key
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, note: Notification) -> Receipt:
        body = {"msgtype": "markdown", "markdown": {"content": wecom_markdown(note)}}
        try:
            async with self.session.post(self.webhook_url, params={"key": self.key}, json=body,
                                         timeout=self.timeout) as resp:
                if resp.status == 429 or resp.status >= 500:
                    raise TryLater(f"WeCom webhook answered HTTP {resp.status}", _retry_after(resp))
                if resp.status != 200:
                    raise GiveUp(f"WeCom webhook answered HTTP {resp.status}; check wecom_webhook_url", Fault.OURS)
                data = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise TryLater(f"WeCom webhook unreachable or garbled: {exc!r}") from exc
        return _receipt(data, note)

    async def aclose(self) -> None:
        return None


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    try:
        return float(resp.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _receipt(data: object, note: Notification) -> Receipt:
    """Translate the robot's answer: errcode 0 → Receipt, else TryLater / GiveUp."""
    if not isinstance(data, dict) or "errcode" not in data:
        raise TryLater(f"WeCom webhook answered without errcode: {data!r:.200}")
    code, msg = data.get("errcode"), str(data.get("errmsg", ""))
    if code == 0:
        return Receipt(provider_id=f"wecom-{note.alert_id}", delivered=True)
    if code in _RETRY_CODES:
        raise TryLater(f"WeCom errcode {code}: {msg}", _RETRY_CODES[code])
    fault = Fault.OURS if code in _OUR_CODES else Fault.THEIRS
    raise GiveUp(f"WeCom errcode {code}: {msg}", fault)
