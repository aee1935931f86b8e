"""``/api/v1/routing``: any role reads its own tenant's trunks; admins and designers change them, audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.models import AdminAudit
from hotline.settings import Settings
from hotline.tokens import Role
from router.model import RoutingConfig
from router.sync import Router
from tests.router.conftest import write_conf


@pytest.fixture
def api_settings(db_url: str, redis_url: str, tmp_path: Path, config: RoutingConfig) -> Settings:
    """The API over a conf dir whose routing.yaml holds this test's tenant."""
    return Settings(
        conf_dir=write_conf(tmp_path / "conf", config),
        data_dir=tmp_path,
        database_url=db_url,
        redis_url=redis_url,
    )


async def test_any_role_reads_its_own_tenants_routing(api, router: Router, tenant: str) -> None:
    router.decide(tenant, "billing", "c1", pbx="ast-1")
    resp = await api.client.get("/api/v1/routing", headers=await api.headers(tenant, Role.VIEWER))
    assert resp.status == 200
    body = await resp.json()
    assert body["tenant"] == tenant
    assert body["targets"][0] == {
        "name": "primary",
        "kind": "trunk",
        "capacity": 100,
        "capacity_source": "config",
        "state": "up",
        "state_source": "config",
        "breaker": "closed",
        "reopen_in_s": None,
        "in_use": 1,
    }
    other = await api.client.get("/api/v1/routing", headers=await api.headers("someone-else", Role.ADMIN))
    assert other.status == 404 and (await other.json())["error"]["code"] == "not_found"


async def test_designer_changes_a_trunk_live_and_it_is_audited(api, router: Router, tenant: str) -> None:
    headers = await api.headers(tenant, Role.DESIGNER, name="dana")
    resp = await api.client.patch(
        "/api/v1/routing/trunks/primary", json={"limit": 0, "state": "drain"}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["capacity"], body["capacity_source"], body["state"], body["state_source"]) == (
        0,
        "live",
        "drain",
        "live",
    )
    assert router.decide(tenant, "billing", "next", pbx="ast-1").name == "backup"
    async with api.sessions() as session:
        [row] = (await session.execute(select(AdminAudit).where(AdminAudit.tenant == tenant))).scalars().all()
    assert (row.action, row.target, row.details) == (
        "routing.trunk.update",
        "primary",
        {"limit": 0, "state": "drain"},
    )
    assert row.actor.startswith("dana#")


async def test_viewers_and_agents_may_not_change_routing(api, tenant: str) -> None:
    for role in (Role.VIEWER, Role.AGENT):
        resp = await api.client.patch(
            "/api/v1/routing/trunks/primary", json={"limit": 1}, headers=await api.headers(tenant, role)
        )
        assert resp.status == 403


async def test_unknown_trunk_is_404(api, tenant: str) -> None:
    resp = await api.client.patch(
        "/api/v1/routing/trunks/nowhere", json={"limit": 5}, headers=await api.headers(tenant)
    )
    assert resp.status == 404 and (await resp.json())["error"] == {
        "code": "not_found",
        "message": "no trunk 'nowhere'",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "body is not JSON: Expecting value at character 0"),
        ("[1]", 'body must be a JSON object such as {"limit": 80, "state": "up"}'),
        ("{}", "give limit, state, or both"),
        ('{"limit": 5, "colour": "red"}', "unknown field(s) colour; allowed: limit, state"),
        ('{"limit": -1}', "limit must be a whole number of calls, 0 or more, not -1"),
        ('{"limit": "10"}', 'limit must be a whole number of calls, 0 or more, not "10"'),
        ('{"limit": true}', "limit must be a whole number of calls, 0 or more, not true"),
        ('{"state": "sideways"}', 'state must be one of up, down, drain, not "sideways"'),
    ],
)
async def test_a_bad_body_is_400_with_the_precise_reason(api, tenant: str, body: str, message: str) -> None:
    resp = await api.client.patch(
        "/api/v1/routing/trunks/primary", data=body, headers=await api.headers(tenant)
    )
    assert resp.status == 400 and (await resp.json())["error"] == {"code": "bad_request", "message": message}
