"""Voice alerts through our own Asterisk: the alerts room's ``originate(number, message)`` on AMI.

The wiring lives here because ``alerts/`` and ``agi/`` may not import each
other. The call goes out on the tenant's first Asterisk trunk (its dial
template with the number filled in) into the ``hotline-alerts`` dialplan
context of ``conf/asterisk/extensions_hotline.conf``, which speaks
``HOTLINE_ALERT_TEXT``. ``PbxVoiceRelay`` exists before the AMI connection
does (the alerts part starts first), so it looks the connection up at call
time and says "unreachable" (retried by the outbox) while there is none.
"""

from __future__ import annotations

from agi.ami import AmiClient, AmiError, AmiTimeout
from agi.variables import HOTLINE_ALERT_TEXT
from alerts.providers.pbx_voice import OriginateError
from router.model import Pbx, RoutingConfig

__all__ = ["ALERT_CONTEXT", "PbxVoiceRelay"]

ALERT_CONTEXT = "hotline-alerts"
#: Asterisk keeps channel variables short in practice; the spoken text is cut, never the call.
MAX_TEXT = 500


class PbxVoiceRelay:
    """Places alert calls on whichever AMI connection the Asterisk edge registered."""

    def __init__(self) -> None:
        self.ami: AmiClient | None = None
        self.dial_template: str | None = None

    def attach(self, ami: AmiClient, routing: RoutingConfig) -> None:
        """Use ``ami`` and its tenant's first Asterisk trunk; ignored when the tenant has none."""
        tenant = routing.tenants.get(ami.pbx.tenant)
        trunk = next((t for t in tenant.trunks if t.pbx is Pbx.ASTERISK), None) if tenant else None
        if trunk is not None:
            self.ami, self.dial_template = ami, trunk.dial

    def detach(self) -> None:
        self.ami = self.dial_template = None

    async def __call__(self, number: str, message: str) -> str | None:
        if self.ami is None or self.dial_template is None:
            raise ConnectionError("no Asterisk AMI connection for voice alerts (set HOTLINE_AMI_URLS)")
        channel = self.dial_template.replace("${number}", number)
        try:
            reply = await self.ami.originate(channel, context=ALERT_CONTEXT, exten="s",
                                             variables={HOTLINE_ALERT_TEXT: " ".join(message.split())[:MAX_TEXT]})
        except AmiTimeout as exc:
            raise TimeoutError(str(exc)) from exc
        except AmiError as exc:
            raise OriginateError(str(exc), transient=False) from exc
        return getattr(reply, "actionid", None) or getattr(reply, "ActionID", None)
