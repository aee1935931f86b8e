"""Phone calls through Twilio's Calls API: the alert is spoken, key 1 acknowledges, key 2 repeats.

The TwiML is sent inline with the call. Its ``<Gather>`` posts the key to
``/api/v1/webhooks/twilio/voice?alert=<id>`` (signed by Twilio, verified by
the API), which answers with ``alert_twiml`` again for key 2. Without a public
URL the message is spoken twice and cannot be acknowledged by key.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from alerts.messages import voice_text
from alerts.paths import VOICE_PATH
from alerts.plan import Channel
from alerts.providers._twilio import TWILIO_FAULTS, TwilioProvider, callback_url, translate
from alerts.providers.base import Notification, ProviderFlags, Receipt

__all__ = ["TwilioVoiceProvider", "ack_twiml", "alert_twiml"]

PROMPT = "Press 1 to acknowledge. Press 2 to hear this message again."


def alert_twiml(text: str, action: str | None) -> str:
    """Say ``text`` and gather one key, posted to ``action``; without an action, say it twice."""
    response = VoiceResponse()
    if action:
        gather = response.gather(num_digits=1, action=action, method="POST", timeout=8)
        gather.say(text)
        gather.pause(length=1)
        gather.say(PROMPT)
        response.say("No key pressed. Goodbye.")
    else:
        response.say(text)
        response.pause(length=1)
        response.say(text)
    response.hangup()
    return str(response)


def ack_twiml(message: str) -> str:
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)


class TwilioVoiceProvider(TwilioProvider):
    channel = Channel.VOICE
    flags = ProviderFlags(delivery_callbacks=True, keypress_ack=True)

    async def send(self, note: Notification) -> Receipt:
        twiml = alert_twiml(voice_text(note), callback_url(note.callback_base, VOICE_PATH, note.alert_id))
        try:
            call = await self.client.calls.create_async(to=note.address, from_=self.from_number, twiml=twiml,
                                                        **self.status_kwargs(note.callback_base, note.alert_id))
        except TWILIO_FAULTS as exc:
            raise translate(exc, "call") from exc
        return Receipt(provider_id=call.sid)
