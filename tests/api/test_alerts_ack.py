"""Acknowledging an alert through the API when it cannot stop anything: the page never shows another
tenant's alerts, so that refusal is the API's to make clear; a second ack is harmless and says so."""

from __future__ import annotations

from datetime import datetime

from alerts import AlertState, EscalationState
from alerts.clock import SlaClock
from flows.recipients import recipients_for
from hotline.tokens import Role
from tests.web.conftest import escalation_rows, open_ticket


async def test_another_tenants_alert_is_not_found_and_a_second_ack_changes_nothing(api, tenant) -> None:  # noqa: ANN001
    [task] = (await open_ticket(api.sessions, tenant))["tasks"]
    await SlaClock(api.sessions, resolver=recipients_for).run_once(datetime.fromisoformat(task["due_at"]))
    _, levels, [alert] = await escalation_rows(api.sessions, tenant, task["id"])
    assert (alert.level, alert.state, levels) == (1, AlertState.QUEUED, [2, 3])
    path = f"/api/v1/alerts/{alert.id}/ack"

    elsewhere = await api.client.post(path, headers=await api.headers(f"other-{tenant}", Role.ADMIN))
    assert elsewhere.status == 404
    assert await elsewhere.json() == {"error": {"code": "not_found", "message": f"no alert {alert.id}"}}
    watcher = await api.client.post(path, headers=await api.headers(tenant, Role.VIEWER))
    assert watcher.status == 403 and (await watcher.json())["error"]["code"] == "forbidden"
    esc, levels, [alert] = await escalation_rows(api.sessions, tenant, task["id"])
    assert (esc.state, levels, alert.state) == (EscalationState.ACTIVE, [2, 3], AlertState.QUEUED), "nothing stopped"

    on_call = await api.headers(tenant, Role.AGENT, task["assignee"])
    answers = [await (await api.client.post(path, headers=on_call)).json() for _ in range(2)]
    assert answers == [{"acknowledged": True, "task_id": str(task["id"])},
                       {"acknowledged": False, "task_id": str(task["id"])}]
    esc, levels, [alert] = await escalation_rows(api.sessions, tenant, task["id"])
    assert (esc.state, esc.acked_by, levels, alert.state) == (EscalationState.ACKED, task["assignee"], [],
                                                              AlertState.ACKED)
