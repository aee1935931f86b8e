"""Signed, expiring acknowledgement links for e-mail and WeCom, and SMS reply codes.

A link carries ``<alert id>.<expiry, unix seconds>.<signature>``, the
signature being HMAC-SHA256 over both with ``settings.secret_key``. Nothing is
stored: the signature proves the link was ours, the expiry bounds how long a
forwarded mail keeps its power. Verification is pure (``now`` is a parameter).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.errors import AlertsError
from alerts.paths import ACK_PATH

__all__ = ["ACK_PATH", "AckLinkError", "AckLinks", "parse_ack_reply"]

_REPLY = re.compile(r"^\s*ACK\s*#?\s*(\d{4,8})\b", re.IGNORECASE)


class AckLinkError(AlertsError, ValueError):
    """A link that must not acknowledge: malformed, wrongly signed or expired."""


def _sig(secret: bytes, alert_id: int, expires: int) -> str:
    mac = hmac.new(secret, f"ack:{alert_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


@dataclass(frozen=True)
class AckLinks:
    secret: bytes
    base_url: str | None
    ttl: timedelta

    def token(self, alert_id: int, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        return f"{alert_id}.{expires}.{_sig(self.secret, alert_id, expires)}"

    def url(self, alert_id: int, now: datetime) -> str | None:
        """The link to put in a message; None when this server has no public URL."""
        if not self.base_url:
            return None
        return f"{self.base_url.rstrip('/')}{ACK_PATH}?t={self.token(alert_id, now)}"

    def verify(self, token: str, now: datetime) -> int:
        """The alert id a valid token acknowledges; raises AckLinkError otherwise."""
        try:
            raw_id, raw_exp, sig = token.split(".", 2)
            alert_id, expires = int(raw_id), int(raw_exp)
        except ValueError as exc:
            raise AckLinkError("malformed acknowledgement link") from exc
        if not hmac.compare_digest(sig, _sig(self.secret, alert_id, expires)):
            raise AckLinkError("acknowledgement link signature does not match")
        if now.timestamp() > expires:
            raise AckLinkError("acknowledgement link has expired")
        return alert_id


def parse_ack_reply(body: str) -> str | None:
    """The code in an SMS reply such as 'ACK 123456' (case and spacing forgiven), else None."""
    m = _REPLY.match(body or "")
    return m.group(1) if m else None
