"""A wrong request body gets one precise 400 (or 413) from every route that reads one, and changes nothing."""

from __future__ import annotations

import pytest

from api.inputs import MAX_CONFIG_BYTES
from hotline.tokens import Role

YAML_ROUTES = [
    ("put", "/api/v1/flows/fee_reduction", Role.ADMIN, "a flow definition"),
    ("post", "/api/v1/flows/fee_reduction/validate", Role.ADMIN, "a flow definition"),
    ("post", "/api/v1/ivr/menus/extra/validate", Role.DESIGNER, "a menu"),
]


@pytest.mark.parametrize(("method", "path", "role", "what"), YAML_ROUTES)
async def test_a_config_body_must_be_utf8_yaml_of_reasonable_size(
    api, tenant, method, path, role, what
) -> None:
    headers = await api.headers(tenant, role)
    cases = [
        (b"   \n", 400, "bad_request", f"send {what} as YAML in the body"),
        ("é: 1".encode("latin-1"), 400, "bad_request", "the body must be UTF-8 YAML text"),
        (b"#" * (MAX_CONFIG_BYTES + 1), 413, "too_large", f"{what} is at most {MAX_CONFIG_BYTES} bytes"),
    ]
    for body, status, code, message in cases:
        resp = await getattr(api.client, method)(path, headers=headers, data=body)
        assert resp.status == status and (await resp.json())["error"] == {"code": code, "message": message}
    listed = await api.client.get("/api/v1/flows", headers=await api.headers(tenant, Role.ADMIN))
    assert (await listed.json())["flows"] == [], "nothing was deployed"


async def test_a_json_body_must_be_an_object(api, tenant) -> None:
    admin = await api.headers(tenant, Role.ADMIN)
    people = await api.client.put("/api/v1/people", headers=admin, data="[1]")
    assert (people.status, (await people.json())["error"]["message"]) == (
        400, "body must be a JSON object such as {units, people}")
    action = await api.client.post("/api/v1/tasks/1/actions/approve", headers=admin, data="{not json")
    assert (action.status, (await action.json())["error"]["message"]) == (
        400, "body is not JSON: Expecting property name enclosed in double quotes at character 1")


async def test_a_query_time_must_be_iso_8601_with_a_zone(api, tenant) -> None:
    headers = await api.headers(tenant, Role.ADMIN)
    for path, message in (
        ("/api/v1/calls?since=2026-11-28T10:00:00", "since: give a time zone, e.g. 2026-11-28T10:00:00Z"),
        ("/api/v1/reports/intervals?from=noon", "from: not an ISO 8601 time: 'noon'"),
    ):
        resp = await api.client.get(path, headers=headers)
        assert (resp.status, (await resp.json())["error"]["message"]) == (400, message)
    ok = await api.client.get("/api/v1/calls?since=2026-11-28T10:00:00Z", headers=headers)
    assert (ok.status, await ok.json()) == (200, {"calls": []})
