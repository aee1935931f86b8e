"""Browser sessions: a token becomes an HttpOnly cookie, every non-GET needs the CSRF token, Bearer is unchanged."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from yarl import URL

from api.app import make_app
from hotline.models import ApiToken
from hotline.tokens import Role
from tests.web.conftest import CSRF_HEADER, browser_login, open_ticket

HTML = {"Accept": "text/html"}


async def token_for(api, tenant: str, role: Role = Role.ADMIN, name: str = "") -> str:
    return (await api.headers(tenant, role, name=name))["Authorization"].removeprefix("Bearer ")


async def test_login_sets_an_httponly_strict_cookie_that_is_not_the_token(api, tenant) -> None:
    token = await token_for(api, tenant)
    page = await api.client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    done = await api.client.post("/login", data={"csrf": nonce, "token": token, "next": "/"}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/routing"
    cookie = next(h for h in done.headers.getall("Set-Cookie") if h.startswith("hl_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert token not in cookie


async def test_agents_land_in_their_inbox(api, tenant) -> None:
    token = await token_for(api, tenant, Role.AGENT)
    page = await api.client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    done = await api.client.post("/login", data={"csrf": nonce, "token": token}, allow_redirects=False)
    assert done.headers["Location"] == "/inbox"


async def test_bad_token_and_missing_login_nonce_are_refused(api, tenant) -> None:
    page = await api.client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    wrong = await api.client.post("/login", data={"csrf": nonce, "token": "hl_nope"}, allow_redirects=False)
    assert wrong.status == 401 and "Unknown or revoked token." in await wrong.text()
    forged = await api.client.post("/login", data={"csrf": "guess", "token": await token_for(api, tenant)},
                                   allow_redirects=False)
    assert forged.status == 403 and "hl_session" not in {c.key for c in api.client.session.cookie_jar}


async def test_pages_send_browsers_to_login_and_the_api_answers_401(api) -> None:
    page = await api.client.get("/tickets/7?x=1", headers=HTML, allow_redirects=False)
    location = URL(page.headers["Location"])
    assert page.status == 303 and location.path == "/login" and location.query["next"] == "/tickets/7?x=1"
    assert (await api.client.get("/api/v1/routing")).status == 401


async def test_cookie_requests_need_the_csrf_token_on_every_change(api, tenant) -> None:
    csrf = await browser_login(api.client, await token_for(api, tenant))
    assert (await api.client.get("/api/v1/routing")).status == 200
    body = {"limit": 7}
    refused = await api.client.patch("/api/v1/routing/trunks/primary", json=body)
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "csrf"
    wrong = await api.client.patch("/api/v1/routing/trunks/primary", json=body, headers={CSRF_HEADER: "x" + csrf})
    assert wrong.status == 403
    other_site = await api.client.patch("/api/v1/routing/trunks/primary", json=body,
                                        headers={CSRF_HEADER: csrf, "Origin": "https://evil.example"})
    assert other_site.status == 403 and (await other_site.json())["error"]["code"] == "bad_origin"
    done = await api.client.patch("/api/v1/routing/trunks/primary", json=body, headers={CSRF_HEADER: csrf})
    assert done.status == 200 and (await done.json())["capacity"] == 7
    logout_without = await api.client.post("/logout", data={}, allow_redirects=False)
    assert logout_without.status == 403


async def test_bearer_requests_are_unchanged_and_need_no_csrf(api, tenant) -> None:
    resp = await api.client.patch("/api/v1/routing/trunks/primary", json={"limit": 9}, headers=await api.headers(tenant))
    assert resp.status == 200
    bad = await api.client.get("/api/v1/routing", headers={"Authorization": "Bearer hl_wrong"})
    assert bad.status == 401 and (await bad.json())["error"]["message"] == "unknown or revoked token"


async def test_revoking_the_token_ends_its_sessions_and_logout_ends_one(api, tenant) -> None:
    token = await token_for(api, tenant, name="rita")
    csrf = await browser_login(api.client, token)
    async with api.sessions.begin() as session:
        await session.execute(update(ApiToken).where(ApiToken.name == "rita", ApiToken.tenant == tenant)
                              .values(revoked_at=ApiToken.created_at))
    assert (await api.client.get("/routing", headers=HTML, allow_redirects=False)).status == 303
    assert (await api.client.get("/api/v1/routing")).status == 401

    csrf = await browser_login(api.client, await token_for(api, tenant))
    out = await api.client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login"
    assert (await api.client.get("/api/v1/routing")).status == 401


async def test_pages_carry_a_csp_and_escape_what_they_show(api, tenant) -> None:
    await browser_login(api.client, await token_for(api, tenant, name='<script>alert("x")</script>'))
    page = await api.client.get("/routing")
    text = await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert '<script>alert("x")' not in text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "<script>" not in re.sub(r'<script src="/static/[a-z]+\.js" defer></script>', "", text)


async def test_every_page_renders_for_an_admin(api, tenant) -> None:
    await browser_login(api.client, await token_for(api, tenant))
    for path in ("/", "/routing", "/ivr", "/flows", "/tickets", "/inbox", "/alerts", "/reports", "/config"):
        page = await api.client.get(path)
        assert page.status == 200, (path, await page.text())
    missing = await api.client.get("/tickets/999999")
    assert missing.status == 404 and "No ticket 999999." in await missing.text()


async def test_static_files_are_public_and_nothing_else_is(api) -> None:
    assert (await api.client.get("/static/common.js")).status == 200
    assert (await api.client.get("/static/../pages/session.py")).status in (401, 404)
    assert (await api.client.get("/static/nope.js")).status in (401, 404)


async def test_viewers_do_not_get_the_config_page(api, tenant) -> None:
    await browser_login(api.client, await token_for(api, tenant, Role.VIEWER))
    page = await api.client.get("/config")
    assert page.status == 403 and "Only designers and admins" in await page.text()


async def test_the_app_starts_without_a_routing_file(api_settings, engine, async_redis, tmp_path) -> None:
    settings = api_settings.model_copy(update={"conf_dir": tmp_path / "empty"})
    client = TestClient(TestServer(make_app(settings, engine, async_redis)))
    await client.start_server()
    try:
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


async def test_another_tenants_ticket_is_not_found(api, tenant) -> None:
    ticket = await open_ticket(api.sessions, tenant)
    await browser_login(api.client, await token_for(api, "elsewhere"))
    page = await api.client.get(f"/tickets/{ticket['id']}")
    assert page.status == 404 and "13800138000" not in await page.text()
    await browser_login(api.client, await token_for(api, tenant))
    page = await api.client.get(f"/tickets/{ticket['id']}")
    assert page.status == 200 and "13800138000" in await page.text()


async def test_login_goes_back_only_to_a_path_of_this_site(api, tenant) -> None:
    token = await token_for(api, tenant)
    for wanted, landed in [("/tickets?state=all", "/tickets?state=all"), ("//evil.example/x", "/routing"),
                           ("/\t/evil.example", "/routing"), ("https://evil.example/", "/routing")]:
        page = await api.client.get("/login")
        nonce = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
        done = await api.client.post("/login", data={"csrf": nonce, "token": token, "next": wanted},
                                     allow_redirects=False)
        assert done.headers["Location"] == landed, wanted
