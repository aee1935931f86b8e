"""Each provider against a loopback server that answers as the real service does."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from alerts.config import AlertsConf
from alerts.plan import Channel
from alerts.providers._twilio import make_client
from alerts.providers.base import Fault, GiveUp, Notification, TryLater
from alerts.providers.pbx_voice import OriginateError, PbxVoiceProvider
from alerts.providers.registry import build_providers
from alerts.providers.smtp import SmtpProvider
from alerts.providers.twilio_sms import TwilioSmsProvider
from alerts.providers.twilio_voice import TwilioVoiceProvider
from alerts.providers.wecom import WeComProvider
from tests.alerts.fakes import FakeTwilio, FakeWeCom, Reply, SmtpSink, _Handler
from tests.conftest import free_port

BASE = "https://hotline.example.com"
#: twilio-python 9 still passes aiohttp's deprecated BasicAuth; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*(BasicAuth|auth. parameter).*:DeprecationWarning")


def note(channel: Channel, address: str, **kw) -> Notification:  # noqa: ANN003
    values = dict(alert_id=42, tenant="demo", task_id="1001", level=2, recipient="wang.fang", recipient_name="Wang Fang",
                  channel=channel, address=address, subject="[L2] Overdue: Fee reduction T-1001",
                  text="Customer asks for a fee reduction. Was due 10:00; overdue by 15 min.",
                  link="https://hotline.example.com/tasks/1001", ack_code="123456",
                  ack_url="https://hotline.example.com/api/v1/alerts/ack?t=42.1.sig", callback_base=BASE)
    values.update(kw)
    return Notification(**values)


def sms(twilio: FakeTwilio, timeout: float = 5.0) -> TwilioSmsProvider:
    return TwilioSmsProvider(make_client(FakeTwilio.SID, "tok", twilio.url, timeout=timeout), "+15005550006")


async def test_twilio_sms_posts_the_message_with_its_status_callback(twilio) -> None:
    provider = sms(twilio)
    try:
        receipt = await provider.send(note(Channel.SMS, "+8613800000002"))
    finally:
        await provider.aclose()
    assert receipt.provider_id.startswith("SM") and not receipt.delivered
    (req,) = twilio.of("Messages")
    assert (req["sid"], req["To"], req["From"]) == (FakeTwilio.SID, "+8613800000002", "+15005550006")
    assert req["Body"].startswith("[L2] Overdue: Fee reduction T-1001. Customer asks")
    assert req["Body"].endswith("Reply ACK 123456 to acknowledge.")
    assert req["StatusCallback"] == f"{BASE}/api/v1/webhooks/twilio/status?alert=42"
    assert req["auth"].startswith("Basic ")


@pytest.mark.parametrize(("to", "reply", "code", "outcome", "fault"), [
    # No reply scripted: the loopback Twilio refuses a To that is not E.164 itself, as Twilio does (a caller id
    # in the national format PBXs give).
    ("013800138000", None, 21211, GiveUp, Fault.THEIRS),
    ("+8613800000002", Reply(401, {"code": 20003, "message": "Authenticate", "status": 401}), 20003, GiveUp,
     Fault.OURS),
    ("+8613800000002", Reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429}), 20429, TryLater,
     None),
    ("+8613800000002", Reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500}), 20500,
     TryLater, None),
])
async def test_twilio_errors_are_told_apart(twilio, to, reply, code, outcome, fault) -> None:
    twilio.replies += [reply] if reply else []
    provider = sms(twilio)
    try:
        with pytest.raises(outcome) as caught:
            await provider.send(note(Channel.SMS, to))
    finally:
        await provider.aclose()
    assert f"code {code}" in caught.value.reason
    if fault:
        assert caught.value.fault == fault


async def test_twilio_timeout_and_refused_connection_are_transient(twilio) -> None:
    twilio.replies.append(Reply(hang=0.6))
    provider = sms(twilio, timeout=0.2)
    try:
        with pytest.raises(TryLater, match="unreachable"):
            await provider.send(note(Channel.SMS, "+8613800000002"))
    finally:
        await provider.aclose()
    down = TwilioSmsProvider(make_client(FakeTwilio.SID, "tok", f"http://127.0.0.1:{free_port()}"), "+1")
    try:
        with pytest.raises(TryLater, match="unreachable"):
            await down.send(note(Channel.SMS, "+8613800000002"))
    finally:
        await down.aclose()


async def test_twilio_voice_says_the_alert_and_gathers_one_key(twilio) -> None:
    provider = TwilioVoiceProvider(make_client(FakeTwilio.SID, "tok", twilio.url), "+15005550007")
    try:
        receipt = await provider.send(note(Channel.VOICE, "+8613800000003"))
    finally:
        await provider.aclose()
    assert receipt.provider_id.startswith("CA")
    (req,) = twilio.of("Calls")
    twiml = req["Twiml"]
    assert f'<Gather action="{BASE}/api/v1/webhooks/twilio/voice?alert=42" method="POST" numDigits="1"' in twiml
    assert "<Say>Hotline alert. [L2] Overdue: Fee reduction T-1001." in twiml and "Press 1 to acknowledge" in twiml
    assert req["StatusCallback"] == f"{BASE}/api/v1/webhooks/twilio/status?alert=42"


async def wecom_send(wecom: FakeWeCom, aiohttp_session, n: Notification):  # noqa: ANN001, ANN201
    return await WeComProvider(aiohttp_session, wecom.webhook, "robot-key").send(n)


@pytest.fixture
async def http():  # noqa: ANN201
    import aiohttp

    async with aiohttp.ClientSession() as session:
        yield session


async def test_wecom_posts_markdown_mentioning_the_recipient(wecom, http) -> None:
    receipt = await wecom_send(wecom, http, note(Channel.WECOM, "LiNa"))
    assert receipt.delivered
    (req,) = wecom.requests
    assert req["key"] == "robot-key" and req["msgtype"] == "markdown"
    content = req["markdown"]["content"]
    assert content.startswith("**[L2] Overdue: Fee reduction T-1001**\n> Customer asks")
    assert "<@LiNa>" in content and "[Acknowledge](https://hotline.example.com/api/v1/alerts/ack?t=42.1.sig)" in content


@pytest.mark.parametrize(("reply", "outcome", "detail"), [
    (Reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"}), TryLater, 60.0),
    (Reply(200, {"errcode": -1, "errmsg": "system busy"}), TryLater, 5.0),
    (Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"}), GiveUp, Fault.OURS),
    (Reply(200, {"errcode": 40058, "errmsg": "invalid markdown"}), GiveUp, Fault.OURS),
    (Reply(502), TryLater, None),
])
async def test_wecom_errcodes_are_told_apart(wecom, http, reply, outcome, detail) -> None:
    wecom.replies.append(reply)
    with pytest.raises(outcome) as caught:
        await wecom_send(wecom, http, note(Channel.WECOM, "LiNa"))
    if outcome is TryLater:
        assert caught.value.after == detail
    else:
        assert caught.value.fault == detail


def _parts(msg: Message) -> dict[str, str]:
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in msg.walk()
            if not part.is_multipart()}


async def test_smtp_sends_text_and_html_with_a_stable_message_id(smtp) -> None:
    provider = SmtpProvider("127.0.0.1", smtp.port, "Hotline <hotline@example.com>", tls="none")
    receipt = await provider.send(note(Channel.EMAIL, "wang.fang@example.com"))
    again = await provider.send(note(Channel.EMAIL, "wang.fang@example.com"))
    first, second = smtp.messages
    assert first["To"] == "wang.fang@example.com" and first["Subject"] == "[L2] Overdue: Fee reduction T-1001"
    assert first["Message-ID"] == second["Message-ID"] == receipt.provider_id == again.provider_id
    parts = _parts(first)
    assert "Acknowledge: https://hotline.example.com/api/v1/alerts/ack?t=42.1.sig" in parts["text/plain"]
    assert '<a href="https://hotline.example.com/api/v1/alerts/ack?t=42.1.sig"><b>Acknowledge</b></a>' in parts["text/html"]


@pytest.mark.parametrize(("rcpt", "outcome"), [("550 5.1.1 No such user", GiveUp), ("451 4.3.0 Try again", TryLater)])
async def test_smtp_refusals_are_told_apart(smtp, rcpt, outcome) -> None:
    smtp.rcpt_replies.append(rcpt)
    with pytest.raises(outcome, match=rcpt.split()[0]):
        await SmtpProvider("127.0.0.1", smtp.port, "hotline@example.com", tls="none").send(note(Channel.EMAIL, "x@y"))


async def test_smtp_relay_down_is_transient() -> None:
    with pytest.raises(TryLater, match="unreachable|SMTP"):
        await SmtpProvider("127.0.0.1", free_port(), "h@example.com", tls="none", timeout=2).send(note(Channel.EMAIL, "x@y"))


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:  # noqa: ANN001
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a throwaway certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_smtp_over_starttls_and_implicit_tls(cert, mode) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*map(str, cert))
    client_ctx = ssl.create_default_context(cafile=str(cert[0]))
    sink = SmtpSink.__new__(SmtpSink)
    sink.messages, sink.rcpt_replies, sink.port = [], [], free_port()
    kwargs = {"tls_context": server_ctx, "require_starttls": True} if mode == "starttls" else {"ssl_context": server_ctx}
    sink.controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port, **kwargs)
    if mode == "tls":
        sink.controller.ready_timeout = 5
    sink.start()
    try:
        await SmtpProvider("127.0.0.1", sink.port, "h@example.com", tls=mode, tls_context=client_ctx).send(
            note(Channel.EMAIL, "wang.fang@example.com"))
    finally:
        sink.stop()
    assert len(sink.messages) == 1


async def test_settings_build_every_configured_provider(provider_settings) -> None:
    providers = build_providers(provider_settings, AlertsConf())
    try:
        assert set(providers.providers) == {Channel.WECOM, Channel.EMAIL, Channel.SMS, Channel.VOICE, Channel.LOG}
        assert providers.get(Channel.PBX_VOICE) is providers.fallback
        assert providers.providers[Channel.SMS].client.api.base_url == provider_settings.twilio_api_base_url
    finally:
        await providers.aclose()


async def test_pbx_voice_originates_through_the_edge_callable() -> None:
    placed: list[tuple[str, str]] = []

    async def originate(number: str, message: str) -> str | None:
        placed.append((number, message))
        if number == "+busy":
            raise OriginateError("all trunks busy", transient=True)
        if number == "+bad":
            raise OriginateError("no route to number", transient=False)
        if number == "+down":
            raise ConnectionError("AMI connection lost")
        return "1700000000.42"

    provider = PbxVoiceProvider(originate)
    receipt = await provider.send(note(Channel.PBX_VOICE, "+8613800000003"))
    assert receipt.provider_id == "1700000000.42"
    assert placed[0] == ("+8613800000003", "Hotline alert. [L2] Overdue: Fee reduction T-1001. Customer asks for a "
                         "fee reduction. Was due 10:00; overdue by 15 min.")
    with pytest.raises(TryLater, match="busy"):
        await provider.send(note(Channel.PBX_VOICE, "+busy"))
    with pytest.raises(GiveUp, match="no route"):
        await provider.send(note(Channel.PBX_VOICE, "+bad"))
    with pytest.raises(TryLater, match="unreachable"):
        await provider.send(note(Channel.PBX_VOICE, "+down"))
