"""Fixtures for the alerts room: people, the demo plan, loopback provider servers, a scripted provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Channel, Contact, Level, OutboxAlert, Plan, start_escalation
from alerts.config import AlertsConf, RateLimitConf, RetryConf
from alerts.outbox import Outbox
from alerts.plan import Channel as Ch
from alerts.providers._twilio import make_client
from alerts.providers.base import Notification, ProviderFlags, Receipt
from alerts.providers.registry import ProviderSet
from alerts.providers.twilio_sms import TwilioSmsProvider
from hotline.settings import Settings
from tests.alerts.fakes import FakeTwilio, FakeWeCom, SmtpSink

#: Monday 2026-11-30 10:00 in Shanghai: inside working hours.
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]

ASSIGNEE = Contact(key="li.na", name="Li Na", phone="+8613800000001", email="li.na@example.com", wecom="LiNa")
SUPERVISOR = Contact(key="wang.fang", name="Wang Fang", phone="+8613800000002", email="wang.fang@example.com")
HEAD = Contact(key="zhao.lei", name="Zhao Lei", phone="+8613800000003", email="zhao.lei@example.com")


def demo_plan(**overrides: Any) -> Plan:
    """The fee-reduction supervisor node's plan: L1 WeCom to the assignee at the deadline,
    L2 SMS to the supervisor 15 min later, L3 a call to the department head at 30 min."""
    levels = overrides.pop("levels", (
        Level(level=1, offset=timedelta(0), channels=(Ch.WECOM,), recipients=(ASSIGNEE,)),
        Level(level=2, offset=timedelta(minutes=15), channels=(Ch.SMS,), recipients=(SUPERVISOR,)),
        Level(level=3, offset=timedelta(minutes=30), channels=(Ch.VOICE,), recipients=(HEAD,)),
    ))
    return Plan(title=overrides.pop("title", "Fee reduction T-1001: supervisor approval"),
                text=overrides.pop("text", "Customer 138****0000 asks for a fee reduction."),
                link=overrides.pop("link", "https://hotline.example.com/tasks/1001"), levels=levels, **overrides)


def fast_conf(**overrides: Any) -> AlertsConf:
    """Retries every 10-20 s, three attempts per channel, no rate limit worth hitting."""
    retry = overrides.pop("retry", RetryConf(max_attempts=3, base=timedelta(seconds=10), cap=timedelta(minutes=5),
                                             send_timeout=timedelta(seconds=2)))
    return AlertsConf(retry=retry, rate_limit=overrides.pop("rate_limit", RateLimitConf(per_recipient=100)),
                      lease=overrides.pop("lease", timedelta(seconds=30)), **overrides)


async def start(sessions: async_sessionmaker[AsyncSession], tenant: str, task_id: str, plan: Plan | None = None, *,
                started_at: datetime = T0, limit: timedelta = timedelta(hours=1), **kw: Any) -> int:
    async with sessions.begin() as session:
        esc = await start_escalation(session, tenant=tenant, task_id=task_id, plan=plan or demo_plan(),
                                     started_at=started_at, due_at=started_at + limit, **kw)
        return esc.id


async def outbox_rows(sessions: async_sessionmaker[AsyncSession], tenant: str | None = None) -> list[OutboxAlert]:
    async with sessions() as session:
        query = select(OutboxAlert).order_by(OutboxAlert.id)
        if tenant:
            query = query.where(OutboxAlert.tenant == tenant)
        return list((await session.execute(query)).scalars())


class Scripted:
    """A provider whose outcomes are scripted: each call pops the next callable (or returns a Receipt)."""

    flags = ProviderFlags()

    def __init__(self, channel: Channel, *script: Callable[[Notification], Any]) -> None:
        self.channel = channel
        self.script = list(script)
        self.sent: list[Notification] = []
        self.calls: list[Notification] = []
        self.delay = 0.0

    async def send(self, note: Notification) -> Receipt:
        self.calls.append(note)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            result = self.script.pop(0)(note)
            if result is not None:
                return result
        self.sent.append(note)
        return Receipt(provider_id=f"{self.channel}-{note.alert_id}-{len(self.calls)}")

    async def aclose(self) -> None:
        return None


def scripted_set(*providers: Scripted, fallback: Any = None) -> ProviderSet:
    return ProviderSet({p.channel: p for p in providers}, fallback=fallback)


def sms_outbox(sessions: async_sessionmaker[AsyncSession], twilio: FakeTwilio, *, worker: str = "worker") -> Outbox:
    """An outbox whose only channel is Twilio SMS on the loopback ``twilio``, without jitter (retry times are
    fixed). Close it with ``await outbox.providers.aclose()``."""
    provider = TwilioSmsProvider(make_client(FakeTwilio.SID, "twilio-test-token", twilio.url), "+15005550006")
    return Outbox(sessions, ProviderSet({Ch.SMS: provider}), fast_conf(), worker=worker, rng=lambda: 0.0)


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def provider_settings(tmp_path: Path, twilio: FakeTwilio, wecom: FakeWeCom, smtp: SmtpSink) -> Settings:
    """Settings whose every provider points at a loopback fake."""
    return Settings(conf_dir=REPO / "conf", data_dir=tmp_path, twilio_account_sid=FakeTwilio.SID,
                    twilio_auth_token="twilio-test-token", twilio_api_base_url=twilio.url,
                    twilio_sms_from="+15005550006", twilio_voice_from="+15005550007", smtp_host="127.0.0.1",
                    smtp_port=smtp.port, smtp_tls="none", smtp_from="hotline@example.com",
                    wecom_webhook_url=wecom.webhook, wecom_webhook_key="robot-key", secret_key="s3cret",
                    public_base_url="https://hotline.example.com")
