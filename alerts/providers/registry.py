"""The one place settings become providers.

A channel is available when its settings are complete; a channel without a
provider is sent to the log or failed over, as ``unconfigured`` in
alerts.yaml says.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from alerts.config import AlertsConf
from alerts.plan import Channel
from alerts.providers._twilio import make_client
from alerts.providers.base import AlertProvider
from alerts.providers.log import LogProvider
from alerts.providers.pbx_voice import Originator, PbxVoiceProvider
from alerts.providers.smtp import SmtpProvider
from alerts.providers.twilio_sms import TwilioSmsProvider
from alerts.providers.twilio_voice import TwilioVoiceProvider
from alerts.providers.wecom import WeComProvider
from hotline.logs import get_logger
from hotline.settings import Settings

__all__ = ["ProviderSet", "build_providers"]

log = get_logger(__name__)


class ProviderSet:
    """Channel → provider, plus the stand-in for unconfigured channels (None = fail over at once)."""

    def __init__(self, providers: Mapping[Channel, AlertProvider], *, fallback: AlertProvider | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.providers = dict(providers)
        self.fallback = fallback
        self.session = session

    def get(self, channel: Channel) -> AlertProvider | None:
        return self.providers.get(channel) or self.fallback

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        if self.session is not None:
            await self.session.close()


def build_providers(settings: Settings, conf: AlertsConf, *, originate: Originator | None = None) -> ProviderSet:
    """Providers for every channel whose settings are complete. Call inside the running event loop."""
    session = aiohttp.ClientSession()
    found: dict[Channel, AlertProvider] = {}
    if settings.wecom_webhook_key:
        found[Channel.WECOM] = WeComProvider(session, settings.wecom_webhook_url,
                                             settings.wecom_webhook_key.get_secret_value())
    if settings.smtp_host:
        found[Channel.EMAIL] = SmtpProvider(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None)
    if settings.twilio_account_sid and settings.twilio_auth_token:
        token = settings.twilio_auth_token.get_secret_value()
        if settings.twilio_sms_from:
            client = make_client(settings.twilio_account_sid, token, settings.twilio_api_base_url)
            found[Channel.SMS] = TwilioSmsProvider(client, settings.twilio_sms_from)
        if settings.twilio_voice_from:
            client = make_client(settings.twilio_account_sid, token, settings.twilio_api_base_url)
            found[Channel.VOICE] = TwilioVoiceProvider(client, settings.twilio_voice_from)
    if originate is not None:
        found[Channel.PBX_VOICE] = PbxVoiceProvider(originate)
    found[Channel.LOG] = LogProvider()
    missing = sorted(str(ch) for ch in Channel if ch not in found)
    if missing:
        log.warning("alert channels without a provider", channels=",".join(missing),
                    action="written to the log" if conf.unconfigured == "log" else "failed over")
    fallback = LogProvider() if conf.unconfigured == "log" else None
    return ProviderSet(found, fallback=fallback, session=session)
