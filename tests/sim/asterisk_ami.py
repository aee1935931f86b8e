"""A simulated Asterisk Manager Interface speaking the recorded framing (tests/transcripts/ami.txt).

Banner ``Asterisk Call Manager/11.0.0\\r\\n`` on connect; ``\\r\\n`` lines, messages
ended by an empty line; ActionID echoed; ``Permission denied`` before login; a
wrong secret gets ``Authentication failed`` and the connection closed; a good
one ``Authentication accepted`` then ``FullyBooted``; Ping answers Pong with a
Timestamp; Originate is "successfully queued" then an ``OriginateResponse``;
CoreShowChannels lists ``channels`` as an event list;
Redirect "Redirect successful"; Logoff "Thanks for all the fish." and close.

Test controls: ``silent`` (accept bytes, answer nothing: a dead peer whose TCP
is still up), ``ignore`` (action names to leave unanswered), ``emit(event)``
(send an event to every logged-in client), ``drop_all()`` (reset every
connection), and counters ``connections`` / ``logins`` / ``actions``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def encode(fields: list[tuple[str, str]] | dict[str, str]) -> bytes:
    items = fields.items() if isinstance(fields, dict) else fields
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in items) + b"\r\n"


def decode(block: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.decode(errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


@dataclass
class AmiSimulator:
    username: str = "hotline"
    secret: str = "secret"
    silent: bool = False
    ignore: set[str] = field(default_factory=set)
    connections: int = 0
    logins: int = 0
    actions: list[dict[str, str]] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)  # Uniqueid -> Channel, for CoreShowChannels
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _logged_in: set[asyncio.StreamWriter] = field(default_factory=set)
    server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.drop_all()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    def emit(self, event: dict[str, str]) -> None:
        for writer in list(self._logged_in):
            writer.write(encode(event))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            if not self.silent:
                writer.write(BANNER)
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                action = decode(block)
                self.actions.append(action)
                if self.silent or action.get("action", "").lower() in self.ignore:
                    continue
                if not await self._answer(writer, action):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            self._logged_in.discard(writer)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> bool:
        """Reply to one action; ``False`` when the connection must close."""
        name = action.get("action", "").lower()
        aid = action.get("actionid", "")
        if name == "login":
            if action.get("username") != self.username or action.get("secret") != self.secret:
                writer.write(encode([("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")]))
                await writer.drain()
                return False
            self.logins += 1
            self._logged_in.add(writer)
            writer.write(encode([("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted")]))
            writer.write(encode([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "244"),
                                 ("LastReload", "244"), ("Status", "Fully Booted")]))
        elif writer not in self._logged_in:
            writer.write(encode([("Response", "Error"), ("ActionID", aid), ("Message", "Permission denied")]))
        elif name == "ping":
            writer.write(encode([("Response", "Success"), ("ActionID", aid), ("Ping", "Pong"),
                                 ("Timestamp", "1795832931.558997")]))
        elif name == "originate":
            if "channel" not in action:
                writer.write(encode([("Response", "Error"), ("ActionID", aid), ("Message", "Channel not specified")]))
            else:
                writer.write(encode([("Response", "Success"), ("ActionID", aid),
                                     ("Message", "Originate successfully queued")]))
                writer.write(encode([("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", aid),
                                     ("Response", "Success"), ("Channel", action["channel"]),
                                     ("Context", action.get("context", "")), ("Exten", action.get("exten", "")),
                                     ("Reason", "4"), ("Uniqueid", "1795832932.90")]))
        elif name == "coreshowchannels":
            writer.write(encode([("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                                 ("Message", "Channels will follow")]))
            for uniqueid, channel in self.channels.items():
                writer.write(encode([("Event", "CoreShowChannel"), ("ActionID", aid), ("Channel", channel),
                                     ("Uniqueid", uniqueid), ("Linkedid", uniqueid), ("Application", "Dial")]))
            writer.write(encode([("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"),
                                 ("ListItems", str(len(self.channels)))]))
        elif name == "redirect":
            writer.write(encode([("Response", "Success"), ("ActionID", aid), ("Message", "Redirect successful")]))
        elif name == "logoff":
            writer.write(encode([("Response", "Goodbye"), ("ActionID", aid), ("Message", "Thanks for all the fish.")]))
            await writer.drain()
            return False
        else:
            writer.write(encode([("Response", "Error"), ("ActionID", aid),
                                 ("Message", (f"Invalid/unknown command: {action.get('action')}. "
                                              "Use Action: ListCommands to show available commands."))]))
        await writer.drain()
        return True


def hangup_event(uniqueid: str, *, cause: str = "16", linkedid: str | None = None) -> dict[str, str]:
    """An AMI ``Hangup`` event as Asterisk 22 writes it (tests/transcripts/ami.txt)."""
    return {
        "Event": "Hangup", "Privilege": "call,all", "Channel": "PJSIP/carrier-a-00000001",
        "ChannelState": "6", "ChannelStateDesc": "Up", "CallerIDNum": "5551234", "CallerIDName": "Hotline Test",
        "ConnectedLineNum": "5551234", "ConnectedLineName": "Hotline Test", "Language": "en", "AccountCode": "",
        "Context": "hotline-inbound", "Exten": "h", "Priority": "3", "Uniqueid": uniqueid,
        "Linkedid": linkedid or uniqueid, "Cause": cause, "Cause-txt": "Normal Clearing",
    }
