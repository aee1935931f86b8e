"""Done-when: the demo fee-reduction task left untouched escalates L1 WeCom, L2 SMS, L3 voice, each once.

Two ways in: with this room's own task-like fixture (``start``), and through
the flow engine's real ticket and task (intake of an intent event, the
task's frozen warning plan, people rules resolved by
``flows.recipients.recipients_for`` when each level fires). Every alert goes
through the real providers to loopback servers answering as WeCom and Twilio.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from alerts import EscalationState, find_escalation
from alerts.acklinks import AckLinks
from alerts.clock import SlaClock
from alerts.config import AlertsConf
from alerts.inbound import ack_alert
from alerts.outbox import Outbox
from alerts.providers.registry import build_providers
from flows.intake import intake
from flows.models import Task, Ticket
from flows.recipients import recipients_for
from alerts.config import RetryConf
from tests.alerts.conftest import SUPERVISOR, T0, demo_plan, fast_conf, outbox_rows, start
from tests.alerts.fakes import Reply
from tests.flows.helpers import NOW, catalog, demo_org, intent_event, setup_demo

#: twilio-python 9 still passes aiohttp's deprecated BasicAuth; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*(BasicAuth|auth. parameter).*:DeprecationWarning")


class Stage:
    """The clock and the dispatcher over the real providers, driven by an explicit ``now``."""

    def __init__(self, sessions, settings, resolver=None, conf=None) -> None:  # noqa: ANN001
        conf = conf or AlertsConf()
        self.providers = build_providers(settings, conf)
        self.links = AckLinks(settings.secret_key.get_secret_value().encode(), settings.public_base_url,
                              conf.ack_link_ttl)
        self.clock = SlaClock(sessions, conf, resolver=resolver)
        self.outbox = Outbox(sessions, self.providers, conf, links=self.links, callback_base=settings.public_base_url,
                             rng=lambda: 0.0)

    async def at(self, now) -> tuple[int, int]:  # noqa: ANN001
        fired = (await self.clock.run_once(now)).fired
        sent = (await self.outbox.drain(now)).sent
        return fired, sent


async def test_untouched_demo_task_escalates_level_by_level_each_once(sessions, tenant, provider_settings,
                                                                     twilio, wecom) -> None:
    await start(sessions, tenant, "1001")
    due = T0 + timedelta(hours=1)
    stage = Stage(sessions, provider_settings)
    try:
        timeline = [await stage.at(t) for t in (due - timedelta(seconds=1), due, due + timedelta(minutes=1),
                                                due + timedelta(minutes=15), due + timedelta(minutes=30),
                                                due + timedelta(hours=5))]
    finally:
        await stage.providers.aclose()
    assert timeline == [(0, 0), (1, 1), (0, 0), (1, 1), (1, 1), (0, 0)]
    assert len(wecom.requests) == 1 and "<@LiNa>" in wecom.requests[0]["markdown"]["content"]
    assert [m["To"] for m in twilio.of("Messages")] == ["+8613800000002"]
    assert [c["To"] for c in twilio.of("Calls")] == ["+8613800000003"]
    assert [r.state for r in await outbox_rows(sessions, tenant)] == ["delivered", "sent", "sent"]


async def test_provider_outage_is_retried_then_failed_over_never_lost(sessions, tenant, provider_settings,
                                                                     twilio, wecom) -> None:
    """WeCom hangs past the send timeout once; Twilio answers 500 to every SMS: L1 arrives on the retry,
    L2 is retried three times and then reaches the supervisor by a call."""
    await start(sessions, tenant, "1001", demo_plan(levels=demo_plan().levels[:2]))
    due = T0 + timedelta(hours=1)
    wecom.replies.append(Reply(hang=0.8))
    twilio.replies += [Reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})] * 3
    stage = Stage(sessions, provider_settings, conf=fast_conf(retry=RetryConf(
        max_attempts=3, base=timedelta(seconds=10), send_timeout=timedelta(seconds=0.4))))
    try:
        assert await stage.at(due) == (1, 0)                                   # WeCom timed out
        assert await stage.at(due + timedelta(seconds=5)) == (0, 1)            # ... and is sent on the retry
        for t in (15 * 60, 15 * 60 + 5, 15 * 60 + 15):                         # SMS: 500, 500, 500 → a call
            await stage.at(due + timedelta(seconds=t))
    finally:
        await stage.providers.aclose()
    assert len(wecom.requests) == 2 and len(twilio.of("Messages")) == 3
    assert [c["To"] for c in twilio.of("Calls")] == [SUPERVISOR.phone]
    rows = await outbox_rows(sessions, tenant)
    assert [(r.channel, r.state, r.attempts) for r in rows] == [
        ("wecom", "delivered", 2), ("sms", "failed", 3), ("voice", "sent", 1)]
    assert "HTTP 500, code 20500" in rows[1].last_error


@pytest.fixture
async def demo_task(sessions, tenant):  # noqa: ANN001, ANN201
    """The flow engine's supervisor task for a fee-reduction call: the engine itself puts it on the SLA clock."""
    await setup_demo(sessions, tenant)
    cat = await catalog(sessions, tenant)
    async with sessions.begin() as session:
        await intake(session, tenant, [intent_event(tenant, "call-1", started_at=NOW.timestamp())], catalog=cat, now=NOW)
        task, ticket = (await session.execute(select(Task, Ticket).join(Ticket, Ticket.id == Task.ticket_id)
                                              .where(Task.tenant == tenant))).one()
        esc = await find_escalation(session, tenant, task.id)  # started by the engine in the intake transaction
        assert esc is not None and esc.due_at == task.due_at
        return task


async def resolver(session, tenant, task_id, level):  # noqa: ANN001, ANN201
    return await recipients_for(session, tenant, int(task_id), level)


async def test_flow_engine_demo_ticket_escalates_to_the_right_people(sessions, tenant, provider_settings, twilio,
                                                                    wecom, demo_task) -> None:
    due = demo_task.due_at
    stage = Stage(sessions, provider_settings, resolver)
    try:
        timeline = [await stage.at(due + timedelta(minutes=m)) for m in (-1, 0, 14, 15, 29, 30, 300)]
    finally:
        await stage.providers.aclose()
    assert timeline == [(0, 0), (1, 1), (0, 0), (1, 1), (0, 0), (1, 1), (0, 0)]
    assignee = demo_task.assignee                        # a supervisor, chosen least-loaded by the engine
    (l1,) = wecom.requests
    assert f"<@{demo_org().people[assignee].wecom}>" in l1["markdown"]["content"]
    assert [m["To"] for m in twilio.of("Messages")] == ["+12015550102"], "L2: the assignee's manager (mark)"
    assert [c["To"] for c in twilio.of("Calls")] == ["+12015550101"], "L3: the department head (hana)"
    rows = await outbox_rows(sessions, tenant)
    assert [(r.level, r.recipient) for r in rows] == [(1, assignee), (2, "mark"), (3, "hana")]


async def test_flow_engine_demo_ack_after_l1_stops_l2_and_l3(sessions, tenant, provider_settings, twilio, wecom,
                                                            demo_task) -> None:
    due = demo_task.due_at
    stage = Stage(sessions, provider_settings, resolver)
    try:
        assert await stage.at(due) == (1, 1)
        link = wecom.requests[0]["markdown"]["content"].split("[Acknowledge](")[1].split(")")[0]
        alert_id = stage.links.verify(parse_qs(urlparse(link).query)["t"][0], due + timedelta(minutes=5))
        async with sessions.begin() as session:
            result = await ack_alert(session, alert_id, now=due + timedelta(minutes=5), by=None, via="link")
        assert result.acked
        timeline = [await stage.at(due + timedelta(minutes=m)) for m in (15, 30, 300)]
    finally:
        await stage.providers.aclose()
    assert timeline == [(0, 0), (0, 0), (0, 0)]
    assert twilio.requests == [], "no SMS, no call after the acknowledgement"
    async with sessions() as session:
        esc = await find_escalation(session, tenant, demo_task.id)
        assert (esc.state, esc.acked_by, esc.ack_via) == (EscalationState.ACKED, demo_task.assignee, "link")


async def test_approving_the_task_stops_its_escalation_in_the_same_transaction(sessions, tenant, demo_task) -> None:
    """The engine settles the escalation itself when the supervisor acts: no level fires after that."""
    from flows.actions import ActionRequest, ActionResult, Actor, perform
    from hotline.tokens import Role

    async with sessions.begin() as session:
        results = await perform(session, tenant, Actor(demo_task.assignee, Role.AGENT, demo_task.assignee),
                                [ActionRequest(demo_task.id, "approve")], now=NOW + timedelta(minutes=5))
        assert isinstance(results[0], ActionResult), results
    async with sessions() as session:
        esc = await find_escalation(session, tenant, demo_task.id)
    assert esc.state == EscalationState.STOPPED
