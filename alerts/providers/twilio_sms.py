"""SMS through Twilio's Messages API. Recipients acknowledge by replying ``ACK <code>``.

Twilio reports delivery to the status callback (``/api/v1/webhooks/twilio/status``)
when this server has a public URL; ``delivered`` then marks the alert
delivered, ``undelivered`` / ``failed`` fail it over to the next channel.
"""

from __future__ import annotations

from alerts.messages import sms_text
from alerts.plan import Channel
from alerts.providers._twilio import TWILIO_FAULTS, TwilioProvider, translate
from alerts.providers.base import Notification, ProviderFlags, Receipt

__all__ = ["TwilioSmsProvider"]


class TwilioSmsProvider(TwilioProvider):
    channel = Channel.SMS
    flags = ProviderFlags(delivery_callbacks=True, reply_ack=True)

    async def send(self, note: Notification) -> Receipt:
        try:
            msg = await self.client.messages.create_async(to=note.address, from_=self.from_number, body=sms_text(note),
                                                          **self.status_kwargs(note.callback_base, note.alert_id))
        except TWILIO_FAULTS as exc:
            raise translate(exc, "SMS") from exc
        return Receipt(provider_id=msg.sid)
