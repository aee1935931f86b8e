"""The HTTP paths on which this room's callbacks arrive (served by ``api/alerts.py``).

Providers put them into what they send (Twilio callback URLs, acknowledgement
links); the API routes them. One module, so the two cannot drift apart.
"""

__all__ = ["ACK_PATH", "SMS_PATH", "STATUS_PATH", "VOICE_PATH"]

#: Signed acknowledgement links in e-mail and WeCom (GET shows a button, POST acknowledges).
ACK_PATH = "/api/v1/alerts/ack"
#: Twilio delivery reports for SMS and calls (``?alert=<id>``).
STATUS_PATH = "/api/v1/webhooks/twilio/status"
#: The key pressed during an alert call (``?alert=<id>``).
VOICE_PATH = "/api/v1/webhooks/twilio/voice"
#: SMS sent to our number: ``ACK <code>`` replies (configure it as the number's Messaging webhook).
SMS_PATH = "/api/v1/webhooks/twilio/sms"
