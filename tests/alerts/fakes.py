"""Loopback stand-ins for the providers' far ends, answering as the real services do.

``FakeTwilio`` speaks the slice of Twilio's REST API the providers use
(``POST /2010-04-01/Accounts/{Sid}/Messages.json`` and ``Calls.json``: 201 with
sid and status, or Twilio's error JSON ``{"code", "message", "status"}``, which
it gives, as Twilio does, for a ``To`` that is not E.164: 400, code 21211);
``FakeWeCom`` answers the group robot webhook with ``errcode``/``errmsg``;
``SmtpSink`` is a real aiosmtpd server. Each can be told to fail the next
requests (an HTTP status and body, or a hang past the client's timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Reply:
    status: int = 201
    body: dict[str, Any] | None = None
    hang: float = 0.0


@dataclass
class _Loopback:
    runner: web.AppRunner | None = None
    port: int = 0
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, app: web.Application) -> None:
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def _next(self) -> Reply | None:
        reply = self.replies.pop(0) if self.replies else None
        if reply and reply.hang:
            await asyncio.sleep(reply.hang)
        return reply


class FakeTwilio(_Loopback):
    SID = "AC" + "0" * 32
    #: What Twilio takes as a ``To`` phone number: E.164, + and at most 15 digits, no leading 0.
    E164 = re.compile(r"\+[1-9][0-9]{1,14}")

    def __init__(self) -> None:
        super().__init__()
        self._n = itertools.count(1)

    async def start(self) -> None:  # type: ignore[override]
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", self._create)
        await super().start(app)

    async def _create(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        kind = "Messages" if request.path.endswith("Messages.json") else "Calls"
        self.requests.append({"kind": kind, "sid": request.match_info["sid"], "auth": request.headers.get("Authorization"),
                              **form})
        if not self.E164.fullmatch(str(form.get("To", ""))):
            return web.json_response({"code": 21211, "message": f"Invalid 'To' Phone Number: {form.get('To')}",
                                      "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400},
                                     status=400)
        reply = await self._next()
        if reply and reply.status >= 300:
            return web.json_response(reply.body or {}, status=reply.status)
        prefix = "SM" if kind == "Messages" else "CA"
        sid = f"{prefix}{next(self._n):032d}"
        return web.json_response({"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                                  "account_sid": request.match_info["sid"]}, status=201)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["kind"] == kind]


class FakeWeCom(_Loopback):
    async def start(self) -> None:  # type: ignore[override]
        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", self._send)
        await super().start(app)

    async def _send(self, request: web.Request) -> web.Response:
        self.requests.append({"key": request.query.get("key"), **(await request.json())})
        reply = await self._next()
        if reply and reply.status != 200:
            return web.Response(status=reply.status, text="error")
        return web.json_response(reply.body if reply and reply.body else {"errcode": 0, "errmsg": "ok"})

    @property
    def webhook(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send"


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, N802
        if self.sink.rcpt_replies:
            return self.sink.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        self.sink.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self, **kwargs: Any) -> None:
        self.messages: list[Message] = []
        self.rcpt_replies: list[str] = []
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
