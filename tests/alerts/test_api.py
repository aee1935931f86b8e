"""The alerts API and webhooks on a real loopback server: tokens, Twilio signatures, signed links."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from alerts import AlertState, Deadline, EscalationState, find_escalation
from alerts.acklinks import AckLinks
from alerts.clock import SlaClock
from alerts.outbox import Outbox
from alerts.plan import Channel
from alerts.providers.base import GiveUp
from api.app import make_app
from hotline.models.base import utcnow
from hotline.settings import Settings
from tests.alerts.conftest import REPO, SUPERVISOR, Scripted, demo_plan, fast_conf, outbox_rows, scripted_set, start

TOKEN = "twilio-test-token"
pytestmark = pytest.mark.filterwarnings("ignore:.*(BasicAuth|auth. parameter).*:DeprecationWarning")
SECRET = "s3cret-for-links"


@pytest.fixture
def api_settings(db_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(conf_dir=REPO / "conf", data_dir=tmp_path, database_url=db_url, redis_url=redis_url,
                    twilio_auth_token=TOKEN, secret_key=SECRET)


async def seeded(sessions, tenant, *, levels: int = 2, sms_fails: bool = False) -> list:  # noqa: ANN001
    """An escalation whose L1 (WeCom) and L2 (SMS) went out, relative to the real clock (webhooks use it)."""
    now = utcnow()
    await start(sessions, tenant, "1001", demo_plan(levels=demo_plan().levels[:levels]),
                started_at=now - timedelta(hours=2), ack_code="123456")
    await SlaClock(sessions).run_once(now)
    sms = Scripted(Channel.SMS, *([lambda n: (_ for _ in ()).throw(GiveUp("no"))] if sms_fails else []))
    await Outbox(sessions, scripted_set(Scripted(Channel.WECOM), sms, Scripted(Channel.VOICE)), fast_conf()).drain(now)
    return await outbox_rows(sessions, tenant)


def signed(api, path: str, form: dict[str, str], token: str = TOKEN) -> dict[str, str]:  # noqa: ANN001
    url = str(api.client.make_url(path))
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}


async def post_twilio(api, path: str, form: dict[str, str], headers: dict[str, str] | None = None):  # noqa: ANN001, ANN201
    headers = signed(api, path, form) if headers is None else headers
    return await api.client.post(path, data=form, headers=headers)


async def test_list_and_get_are_scoped_to_the_callers_tenant(api, tenant) -> None:
    rows = await seeded(api.sessions, tenant)
    mine, theirs = await api.headers(tenant, "viewer"), await api.headers("other-" + tenant, "admin")
    listed = await (await api.client.get("/api/v1/alerts", headers=mine)).json()
    assert [(a["level"], a["channel"], a["state"]) for a in listed["alerts"]] == [(2, "sms", "sent"), (1, "wecom", "sent")]
    sms_only = await (await api.client.get("/api/v1/alerts?state=sent&task=1001&limit=1", headers=mine)).json()
    assert len(sms_only["alerts"]) == 1
    assert (await api.client.get("/api/v1/alerts?state=bogus", headers=mine)).status == 400
    assert (await (await api.client.get("/api/v1/alerts", headers=theirs)).json())["alerts"] == []
    assert (await api.client.get(f"/api/v1/alerts/{rows[0].id}", headers=theirs)).status == 404
    one = await (await api.client.get(f"/api/v1/alerts/{rows[0].id}", headers=mine)).json()
    assert one["recipient"] == "li.na" and one["attempts"] == 1
    assert (await api.client.get("/api/v1/alerts")).status == 401


async def test_retry_needs_an_actor_and_a_failed_alert(api, tenant) -> None:
    rows = await seeded(api.sessions, tenant, sms_fails=True)
    failed = next(r for r in rows if r.state == AlertState.FAILED)
    assert (await api.client.post(f"/api/v1/alerts/{failed.id}/retry", headers=await api.headers(tenant, "viewer"))).status == 403
    agent = await api.headers(tenant, "agent")
    resp = await api.client.post(f"/api/v1/alerts/{failed.id}/retry", headers=agent)
    assert resp.status == 200 and (await resp.json())["state"] == "queued"
    assert (await api.client.post(f"/api/v1/alerts/{rows[0].id}/retry", headers=agent)).status == 409
    assert (await api.client.post(f"/api/v1/alerts/{failed.id}/retry",
                                  headers=await api.headers("x" + tenant, "admin"))).status == 404


async def test_api_ack_stops_the_escalation(api, tenant) -> None:
    rows = await seeded(api.sessions, tenant, levels=3)
    resp = await api.client.post(f"/api/v1/alerts/{rows[0].id}/ack", headers=await api.headers(tenant, "agent", "li.na"))
    assert resp.status == 200 and (await resp.json()) == {"acknowledged": True, "task_id": "1001"}
    async with api.sessions() as s:
        esc = await find_escalation(s, tenant, "1001")
        assert (esc.state, esc.acked_by, esc.ack_via) == (EscalationState.ACKED, "li.na", "api")
        assert (await s.execute(select(func.count()).select_from(Deadline))).scalar_one() == 0


@pytest.mark.parametrize("path", ["/api/v1/webhooks/twilio/voice?alert=1", "/api/v1/webhooks/twilio/sms",
                                  "/api/v1/webhooks/twilio/status?alert=1"])
async def test_twilio_webhooks_refuse_missing_or_bad_signatures(api, path) -> None:
    form = {"From": SUPERVISOR.phone, "Body": "ACK 123456", "Digits": "1", "CallSid": "CA1", "CallStatus": "completed"}
    assert (await post_twilio(api, path, form, headers={})).status == 403
    assert (await post_twilio(api, path, form, headers={"X-Twilio-Signature": "bm9wZQ=="})).status == 403
    forged = signed(api, path, form, token="someone-elses-token")
    assert (await post_twilio(api, path, form, headers=forged)).status == 403
    tampered = signed(api, path, {**form, "Digits": "2", "Body": "hi"})
    assert (await post_twilio(api, path, form, headers=tampered)).status == 403


async def test_twilio_webhooks_refuse_everything_without_an_auth_token(api_settings, engine, async_redis) -> None:
    app = make_app(api_settings.model_copy(update={"twilio_auth_token": None}), engine, async_redis)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        path = "/api/v1/webhooks/twilio/sms"
        form = {"From": "+1", "Body": "ACK 123456"}
        url = str(client.make_url(path))
        signature = RequestValidator(TOKEN).compute_signature(url, form)
        resp = await client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert resp.status == 403


async def test_key_1_on_the_call_acknowledges_and_key_2_repeats(api, tenant) -> None:
    rows = await seeded(api.sessions, tenant)
    path = f"/api/v1/webhooks/twilio/voice?alert={rows[1].id}"
    again = await post_twilio(api, path, {"CallSid": "CA1", "Digits": "2"})
    twiml = await again.text()
    assert again.status == 200 and "<Gather" in twiml and "[L2] Overdue: Fee reduction" in twiml
    assert str(api.client.make_url(path)).replace("&", "&amp;") in twiml
    acked = await post_twilio(api, path, {"CallSid": "CA1", "Digits": "1"})
    assert "Acknowledged. Thank you." in await acked.text()
    async with api.sessions() as s:
        assert (await find_escalation(s, tenant, "1001")).ack_via == "voice"
    twice = await post_twilio(api, path, {"CallSid": "CA1", "Digits": "1"})
    assert "already settled" in await twice.text()


async def test_sms_reply_ack_code_acknowledges_from_an_alerted_number_only(api, tenant) -> None:
    await seeded(api.sessions, tenant)
    path = "/api/v1/webhooks/twilio/sms"
    stranger = await post_twilio(api, path, {"From": "+10000000000", "Body": "ACK 123456"})
    assert "No alert matches" in await stranger.text()
    resp = await post_twilio(api, path, {"From": SUPERVISOR.phone, "Body": " ack 123456 thanks"})
    assert "Acknowledged: Fee reduction T-1001" in await resp.text()
    async with api.sessions() as s:
        esc = await find_escalation(s, tenant, "1001")
        assert (esc.state, esc.acked_by, esc.ack_via) == (EscalationState.ACKED, SUPERVISOR.key, "sms")
    rows = await outbox_rows(api.sessions, tenant)
    assert rows[1].state == AlertState.ACKED


async def test_status_callbacks_mark_delivery_or_fail_over(api, tenant) -> None:
    rows = await seeded(api.sessions, tenant)
    sms = rows[1]
    path = f"/api/v1/webhooks/twilio/status?alert={sms.id}"
    assert (await post_twilio(api, path, {"MessageSid": "SMwrong", "MessageStatus": "delivered"})).status == 204
    assert (await outbox_rows(api.sessions, tenant))[1].state == AlertState.SENT, "a report for another sid is ignored"
    await post_twilio(api, path, {"MessageSid": sms.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    after = await outbox_rows(api.sessions, tenant)
    assert [(r.channel, r.state) for r in after] == [("wecom", "sent"), ("sms", "failed"), ("voice", "queued")]
    assert after[1].last_error == "provider reported undelivered (30003)"
    await post_twilio(api, f"/api/v1/webhooks/twilio/status?alert={rows[0].id}",
                      {"MessageSid": rows[0].provider_id, "MessageStatus": "delivered"})
    assert (await outbox_rows(api.sessions, tenant))[0].state == AlertState.DELIVERED


async def test_signed_link_shows_a_button_and_the_post_acknowledges(api, tenant) -> None:
    rows = await seeded(api.sessions, tenant)
    links = AckLinks(SECRET.encode(), None, timedelta(hours=1))
    token = links.token(rows[0].id, utcnow())
    page = await api.client.get("/api/v1/alerts/ack?" + urlencode({"t": token}))
    assert page.status == 200 and "<form method='post'" in await page.text()
    async with api.sessions() as s:
        assert (await find_escalation(s, tenant, "1001")).state == EscalationState.ACTIVE, "GET acknowledges nothing"
    done = await api.client.post("/api/v1/alerts/ack?" + urlencode({"t": token}))
    assert done.status == 200 and "Acknowledged" in await done.text()
    async with api.sessions() as s:
        assert (await find_escalation(s, tenant, "1001")).ack_via == "link"
    expired = links.token(rows[0].id, utcnow() - timedelta(hours=2))
    bad = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other = AckLinks(b"not-our-secret", None, timedelta(hours=1)).token(rows[0].id, utcnow())
    for t in (expired, bad, other, "garbage"):
        assert (await api.client.post("/api/v1/alerts/ack?" + urlencode({"t": t}))).status == 403
