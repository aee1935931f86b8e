"""Alerts over HTTP: list, retry and acknowledge (``/api/v1/alerts``), and the provider webhooks.

The webhooks and the acknowledgement link are public paths: they carry no
token and prove themselves instead. Twilio requests must bear a valid
``X-Twilio-Signature`` (``twilio.request_validator.RequestValidator`` over the
public URL and the form) or they get 403, always, with no fallback; a link
must carry an unexpired HMAC signature made with ``secret_key``. What a
verified request means is decided in ``alerts.inbound``.
"""

from __future__ import annotations

import html

from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from alerts.acklinks import AckLinkError, AckLinks
from alerts.config import load_alerts_conf
from alerts.delivery import retry_alert
from alerts.inbound import ack_alert, ack_by_reply, delivery_report
from alerts.messages import spoken
from alerts.models import AlertState, OutboxAlert
from alerts.paths import ACK_PATH, SMS_PATH, STATUS_PATH, VOICE_PATH
from alerts.providers.twilio_voice import ack_twiml, alert_twiml
from alerts.queries import alert_json, list_alerts
from api.appkeys import SESSIONS, SETTINGS
from api.audit import record_audit
from api.auth import Role, principal, public, require_role
from api.errors import ApiError
from hotline.logs import get_logger
from hotline.models.base import utcnow

routes = web.RouteTableDef()
log = get_logger(__name__)
ACTORS = (Role.AGENT, Role.DESIGNER, Role.ADMIN)


def _alert_id(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError as exc:
        raise ApiError(404, "not_found", f"no alert {raw!r}") from exc


@routes.get("/api/v1/alerts")
async def list_(request: web.Request) -> web.Response:
    who = principal(request)
    raw_state = request.query.get("state")
    try:
        state = AlertState(raw_state) if raw_state else None
        limit = int(request.query.get("limit", "100"))
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"state is one of {', '.join(AlertState)}; limit is a number") from exc
    async with request.app[SESSIONS]() as session:
        rows = await list_alerts(session, tenant=who.tenant, state=state, task_id=request.query.get("task"),
                                 limit=limit)
    return web.json_response({"alerts": [alert_json(a) for a in rows]})


@routes.get("/api/v1/alerts/{id:\\d+}")
async def get(request: web.Request) -> web.Response:
    who = principal(request)
    alert_id = _alert_id(request.match_info["id"])
    async with request.app[SESSIONS]() as session:
        alert = await session.get(OutboxAlert, alert_id)
    if alert is None or alert.tenant != who.tenant:
        raise ApiError(404, "not_found", f"no alert {alert_id}")
    return web.json_response(alert_json(alert))


@routes.post("/api/v1/alerts/{id:\\d+}/retry")
async def retry(request: web.Request) -> web.Response:
    who = require_role(request, *ACTORS)
    alert_id = _alert_id(request.match_info["id"])
    async with request.app[SESSIONS].begin() as session:
        exists = await session.get(OutboxAlert, alert_id)
        if exists is None or exists.tenant != who.tenant:
            raise ApiError(404, "not_found", f"no alert {alert_id}")
        row = await retry_alert(session, alert_id, now=utcnow(), tenant=who.tenant)
        if row is None:
            raise ApiError(409, "conflict",
                           f"alert {alert_id} is {exists.state}; only failed or cancelled alerts are retried")
        body = alert_json(row)
    await record_audit(request, "alert.retry", f"alert:{alert_id}")
    return web.json_response(body)


@routes.post("/api/v1/alerts/{id:\\d+}/ack")
async def ack(request: web.Request) -> web.Response:
    who = require_role(request, *ACTORS)
    alert_id = _alert_id(request.match_info["id"])
    async with request.app[SESSIONS].begin() as session:
        result = await ack_alert(session, alert_id, now=utcnow(), by=who.name, via="api", tenant=who.tenant)
    if not result.found:
        raise ApiError(404, "not_found", f"no alert {alert_id}")
    await record_audit(request, "alert.ack", f"alert:{alert_id}", {"settled": result.acked})
    return web.json_response({"acknowledged": result.acked, "task_id": result.alert.task_id if result.alert else None})


# -- signed acknowledgement link (e-mail, WeCom) --------------------------------------------------


def _links(request: web.Request) -> AckLinks:
    settings = request.app[SETTINGS]
    if settings.secret_key is None:
        raise ApiError(403, "forbidden", "acknowledgement links are disabled: no secret_key is set")
    conf = load_alerts_conf(settings.conf_dir)
    return AckLinks(settings.secret_key.get_secret_value().encode(), settings.public_base_url, conf.ack_link_ttl)


def _verified_link(request: web.Request, token: str) -> int:
    try:
        return _links(request).verify(token, utcnow())
    except AckLinkError as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h2>{html.escape(title)}</h2>{body}</body></html>")
    return web.Response(text=text, content_type="text/html", status=status)


@routes.get(public(ACK_PATH))
async def ack_link_page(request: web.Request) -> web.Response:
    """Shows a button; only the POST acknowledges, so mail scanners that follow links ack nothing."""
    token = request.query.get("t", "")
    _verified_link(request, token)
    form = (f"<form method='post' action='{ACK_PATH}?t={html.escape(token, quote=True)}'>"
            "<button type='submit'>Acknowledge: I am on it</button></form>")
    return _page("Acknowledge this alert", form)


@routes.post(ACK_PATH)
async def ack_link(request: web.Request) -> web.Response:
    alert_id = _verified_link(request, request.query.get("t", ""))
    async with request.app[SESSIONS].begin() as session:
        result = await ack_alert(session, alert_id, now=utcnow(), by=None, via="link")
    if not result.found:
        raise ApiError(404, "not_found", "this alert no longer exists")
    said = "Acknowledged. No further alerts will be sent." if result.acked else "This was already settled."
    return _page(result.title or "Alert", f"<p>{said}</p>")


# -- Twilio webhooks --------------------------------------------------------------------------------


async def _twilio_form(request: web.Request) -> dict[str, str]:
    """The form of a request Twilio really sent; 403 otherwise (no token, no signature, no fallback)."""
    settings = request.app[SETTINGS]
    form = {k: str(v) for k, v in (await request.post()).items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    if settings.twilio_auth_token is None or not signature:
        log.warning("Twilio webhook refused: unsigned or no auth token configured", path=request.path)
        raise ApiError(403, "forbidden", "Twilio signature required")
    url = (settings.public_base_url.rstrip("/") + request.path_qs) if settings.public_base_url else str(request.url)
    if not RequestValidator(settings.twilio_auth_token.get_secret_value()).validate(url, form, signature):
        log.warning("Twilio webhook refused: bad signature", path=request.path)
        raise ApiError(403, "forbidden", "Twilio signature does not match")
    return form


def _twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/xml")


@routes.post(public(VOICE_PATH))
async def twilio_voice(request: web.Request) -> web.Response:
    """The key pressed during an alert call: 1 acknowledges, anything else repeats the message."""
    form = await _twilio_form(request)
    alert_id = _alert_id(request.query.get("alert"))
    async with request.app[SESSIONS].begin() as session:
        alert = await session.get(OutboxAlert, alert_id)
        if alert is None:
            return _twiml(ack_twiml("This alert no longer exists. Goodbye."))
        if form.get("Digits") == "1":
            result = await ack_alert(session, alert_id, now=utcnow(), by=alert.recipient, via="voice")
            said = "Acknowledged. Thank you." if result.acked else "This was already settled. Goodbye."
            return _twiml(ack_twiml(said))
        return _twiml(alert_twiml(spoken(alert.subject, alert.body), _self_url(request)))


def _self_url(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    return (settings.public_base_url.rstrip("/") + request.path_qs) if settings.public_base_url else str(request.url)


@routes.post(public(SMS_PATH))
async def twilio_sms(request: web.Request) -> web.Response:
    """An SMS to our number: 'ACK <code>' acknowledges; anything else gets a hint."""
    form = await _twilio_form(request)
    async with request.app[SESSIONS].begin() as session:
        result = await ack_by_reply(session, form.get("From", ""), form.get("Body", ""), now=utcnow())
    reply = MessagingResponse()
    if not result.found:
        reply.message("No alert matches. Reply ACK and the code from the alert, e.g. ACK 123456.")
    else:
        reply.message(f"Acknowledged: {result.title}" if result.acked else f"Already settled: {result.title}")
    return _twiml(str(reply))


@routes.post(public(STATUS_PATH))
async def twilio_status(request: web.Request) -> web.Response:
    """Delivery reports for SMS (MessageStatus) and calls (CallStatus)."""
    form = await _twilio_form(request)
    alert_id = _alert_id(request.query.get("alert"))
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    status = form.get("MessageStatus") or form.get("CallStatus") or ""
    conf = load_alerts_conf(request.app[SETTINGS].conf_dir)
    async with request.app[SESSIONS].begin() as session:
        done = await delivery_report(session, alert_id, sid, status, now=utcnow(), conf=conf,
                                     error=form.get("ErrorCode", ""))
    log.info("Twilio delivery report", alert=alert_id, status=status, outcome=done)
    return web.Response(status=204)

