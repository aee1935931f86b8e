"""Voice alerts through our own PBX: the alerts room's ``originate(number, message)`` on AMI or ESL.

The wiring lives here because ``alerts/`` and the edges may not import each
other. Asterisk: an AMI ``Originate`` on the tenant's first Asterisk trunk
(its dial template with the number filled in) into the ``hotline-alerts``
dialplan context of ``conf/asterisk/extensions_hotline.conf``, which speaks
``HOTLINE_ALERT_TEXT``. FreeSWITCH: ``bgapi originate`` on the first
FreeSWITCH trunk, playing ``hotline/alert-overdue`` with the text as a channel
variable. ``PbxVoiceRelay`` exists before the PBX connections do (the alerts
part starts first), so it looks them up at call time and says "unreachable"
(retried by the outbox) while there is none.
"""

from __future__ import annotations

from agi.ami import AmiClient, AmiError, AmiTimeout
from agi.variables import HOTLINE_ALERT_TEXT
from alerts.providers.pbx_voice import OriginateError
from esl.inbound import EslUnavailable, InboundClient
from router.model import Pbx, RoutingConfig

__all__ = ["ALERT_CONTEXT", "ALERT_PROMPT", "PbxVoiceRelay"]

ALERT_CONTEXT = "hotline-alerts"
ALERT_PROMPT = "hotline/alert-overdue"
#: Channel variables stay short in practice; the spoken text is cut, never the call.
MAX_TEXT = 500


def _dial(routing: RoutingConfig, tenant: str, pbx: Pbx) -> str | None:
    tenant_routing = routing.tenants.get(tenant)
    trunk = next((t for t in tenant_routing.trunks if t.pbx is pbx), None) if tenant_routing else None
    return trunk.dial if trunk else None


def _text(message: str) -> str:
    return " ".join(message.split())[:MAX_TEXT]


class PbxVoiceRelay:
    """Places alert calls on whichever PBX connection an edge attached (Asterisk first)."""

    def __init__(self) -> None:
        self.ami: tuple[AmiClient, str] | None = None
        self.freeswitch: tuple[InboundClient, str] | None = None

    def attach_ami(self, ami: AmiClient, routing: RoutingConfig) -> None:
        """Use ``ami`` with its tenant's first Asterisk trunk; ignored when the tenant has none."""
        if (dial := _dial(routing, ami.pbx.tenant, Pbx.ASTERISK)) is not None:
            self.ami = (ami, dial)

    def attach_freeswitch(self, client: InboundClient, tenant: str, routing: RoutingConfig) -> None:
        """Use the event-socket ``client`` with the tenant's first FreeSWITCH trunk."""
        if (dial := _dial(routing, tenant, Pbx.FREESWITCH)) is not None:
            self.freeswitch = (client, dial)

    def detach(self) -> None:
        self.ami = self.freeswitch = None

    async def __call__(self, number: str, message: str) -> str | None:
        if self.ami is not None:
            return await self._asterisk(*self.ami, number, message)
        if self.freeswitch is not None:
            return await self._freeswitch(*self.freeswitch, number, message)
        raise ConnectionError("no PBX connection for voice alerts (set HOTLINE_AMI_URLS or HOTLINE_FS_EVENT_HOST)")

    @staticmethod
    async def _asterisk(ami: AmiClient, dial: str, number: str, message: str) -> str | None:
        try:
            reply = await ami.originate(dial.replace("${number}", number), context=ALERT_CONTEXT, exten="s",
                                        variables={HOTLINE_ALERT_TEXT: _text(message)})
        except AmiTimeout as exc:
            raise TimeoutError(str(exc)) from exc
        except AmiError as exc:
            raise OriginateError(str(exc), transient=False) from exc
        return getattr(reply, "actionid", None) or getattr(reply, "ActionID", None)

    @staticmethod
    async def _freeswitch(client: InboundClient, dial: str, number: str, message: str) -> str | None:
        text = _text(message).replace(",", " ").replace("'", " ")  # originate's {var=...} syntax splits on both
        dial_string = "{" + f"hotline_alert_text='{text}'" + "}" + dial.replace("${number}", number)
        try:
            result = await client.originate(dial_string, f"&playback({ALERT_PROMPT})")
        except EslUnavailable as exc:
            raise ConnectionError(str(exc)) from exc
        if not result.ok:
            busy = result.cause in {"USER_BUSY", "NO_ANSWER", "NO_USER_RESPONSE", "NORMAL_TEMPORARY_FAILURE"}
            raise OriginateError(f"FreeSWITCH originate: {result.reply}", transient=busy)
        return result.call_uuid
