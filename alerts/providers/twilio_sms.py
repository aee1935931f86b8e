"""SMS through Twilio's Messages API. Recipients acknowledge by replying ``ACK <code>``.

Twilio reports delivery to the status callback (``/api/v1/webhooks/twilio/status``)
when this server has a public URL; ``delivered`` then marks the alert
delivered, ``undelivered`` / ``failed`` fail it over to the next channel.
"""

from __future__ import annotations

import asyncio

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from alerts.messages import sms_text
from alerts.plan import Channel
from alerts.paths import STATUS_PATH
from alerts.providers._twilio import callback_url, close_client, translate
from alerts.providers.base import Notification, ProviderFlags, Receipt

__all__ = ["TwilioSmsProvider"]


class TwilioSmsProvider:
    channel = Channel.SMS
    flags = ProviderFlags(delivery_callbacks=True, reply_ack=True)

    def __init__(self, client: Client, from_number: str, *, owns_client: bool = True) -> None:
        self.client = client
        self.from_number = from_number
        self.owns_client = owns_client

    async def send(self, note: Notification) -> Receipt:
        kwargs = {}
        if status := callback_url(note.callback_base, STATUS_PATH, note.alert_id):
            kwargs["status_callback"] = status
        try:
            msg = await self.client.messages.create_async(to=note.address, from_=self.from_number,
                                                          body=sms_text(note), **kwargs)
        except (TwilioException, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise translate(exc, "SMS") from exc
        return Receipt(provider_id=msg.sid)

    async def aclose(self) -> None:
        if self.owns_client:
            await close_client(self.client)
