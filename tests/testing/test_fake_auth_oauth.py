"""401 variants, token levels, scopes, the three OAuth grants, authorize, revocation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from fake_helpers import basic

from assembly_async.testing import FakeAssembly

if TYPE_CHECKING:
    from fake_helpers import Api


async def token_call(api: Api, params: dict[str, str] | None = None, *,
                     auth: tuple[str, str] | None = None, data: Any = None,
                     json: Any = None) -> tuple[int, Any]:
    fake = api.fake
    login, password = auth or (fake.client_id, fake.client_secret)
    async with api.session.post(str(fake.token_url), params=params, data=data, json=json,
                                headers={**basic(login, password),
                                         "Accept": "application/json"}) as r:
        return r.status, await r.json()


async def test_missing_and_bad_tokens(api: Api) -> None:
    r = await api.get("/students", token=None)
    assert r.status == 401
    assert r.body == {"error": "invalid_request", "message": "an access_token is required."}
    assert "Bearer" in r.headers["WWW-Authenticate"]
    r = await api.get("/students", token="not-a-token")
    assert r.status == 401 and r.body["error"] == "invalid_token"
    r = await api.get("/students", headers={"Authorization": "Basic abc"}, token=None)
    assert r.status == 401 and r.body["error"] == "invalid_request"


async def test_expired_token(api: Api) -> None:
    assert api.fake.expire_access_tokens(api.school_id) >= 1
    r = await api.get("/students")
    assert r.status == 401
    assert r.body == {"error": "invalid_token", "message": "The access token expired"}
    other = api.fake.school_token(api.fake.school_ids[1]).access_token
    assert (await api.get("/school", token=other)).status == 200


async def test_short_ttl_expires_in_real_time(fake_assembly_factory: Any, api: Api) -> None:
    fake: FakeAssembly = await fake_assembly_factory(schools=1, access_token_ttl=0)
    r = await api.session.get(str(fake.url) + "/school", headers={
        "Authorization": f"Bearer {fake.school_token(1).access_token}",
        "Accept": "application/vnd.assembly+json; version=1.1"})
    assert r.status == 401 and (await r.json())["message"] == "The access token expired"
    r.release()


async def test_token_levels(api: Api) -> None:
    fake = api.fake
    r = await api.get("/students", token=fake.app_token)
    assert r.status == 401 and r.body["error"] == "invalid_token" and r.body["message"]
    for path in ("/schools/registered", "/authorizations"):
        r = await api.get(path)
        assert r.status == 401 and r.body["error"] == "insufficient_scope"
        assert (await api.get(path, token=fake.app_token)).status == 200
    assert (await api.get("/me")).status == 200
    assert (await api.get("/me", token=fake.app_token)).status == 200


async def test_scopes(api: Api) -> None:
    pair = api.fake.issue_school_token(api.school_id, ["students.upn", "school"])
    assert "students.basic" in pair.scopes  # implied by students.upn
    assert (await api.get("/students", token=pair.access_token)).status == 200
    assert (await api.get("/school", token=pair.access_token)).status == 200
    r = await api.get("/attendances", token=pair.access_token)
    assert r.status == 401 and r.body["error"] == "insufficient_scope"
    assert "attendances" in r.body["message"]
    r = await api.get("/results", token=pair.access_token)  # anyOf assessments.*
    assert r.status == 401 and r.body["error"] == "insufficient_scope"
    # operations whose scopes are only inferred in the spec are not enforced
    assert (await api.get("/rooms", token=pair.access_token)).status == 200


async def test_client_credentials_grant(api: Api) -> None:
    status, body = await token_call(api, {"grant_type": "client_credentials"})
    assert status == 200
    assert body["level"] == "app" and body["expires_in"] is None
    assert body["token_type"] == "bearer" and "refresh_token" not in body
    assert (await api.get("/authorizations", token=body["access_token"])).status == 200


async def test_bad_client_credentials(api: Api) -> None:
    status, body = await token_call(api, {"grant_type": "client_credentials"},
                                    auth=("fake-client-id", "wrong"))
    assert (status, body) == (401, {"error": "invalid_client"})
    async with api.session.post(str(api.fake.token_url),
                                params={"grant_type": "client_credentials"}) as r:
        assert r.status == 401 and (await r.json()) == {"error": "invalid_client"}
    status, body = await token_call(api, {"grant_type": "password"})
    assert status == 400 and body["error"] == "unsupported_grant_type"


async def test_authorization_code_and_refresh(api: Api) -> None:
    fake = api.fake
    sid = fake.school_ids[1]
    code = fake.issue_code(sid, redirect_uri="https://app.example/cb")
    status, body = await token_call(api, {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": "https://app.example/wrong"})
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await token_call(api, {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": "https://app.example/cb"})
    assert status == 200
    assert body["level"] == "school" and body["school_id"] == sid
    assert body["expires_in"] == 86400 and body["token_type"] == "bearer"
    assert "students.basic" in body["scopes"] and body["refresh_token"]
    me = await api.get("/me", version="1", token=body["access_token"])
    assert me.body["school"]["id"] == sid
    # codes are single use
    status, again = await token_call(api, {"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": "https://app.example/cb"})
    assert status == 400 and again["error"] == "invalid_grant"
    # refresh: new access token, no new refresh token; grant params in a form body work too
    status, refreshed = await token_call(api, data={"grant_type": "refresh_token",
                                                    "refresh_token": body["refresh_token"]})
    assert status == 200 and "refresh_token" not in refreshed
    assert refreshed["access_token"] != body["access_token"] and refreshed["school_id"] == sid
    status, _ = await token_call(api, json={"grant_type": "refresh_token",
                                            "refresh_token": body["refresh_token"]})
    assert status == 200
    assert fake.stats.refreshes_by_school[sid] == 2
    status, bad = await token_call(api, {"grant_type": "refresh_token", "refresh_token": "nope"})
    assert status == 400 and bad["error"] == "invalid_grant"


async def test_refresh_after_expiry_and_rotation(fake_assembly_factory: Any, api: Api) -> None:
    fake: FakeAssembly = await fake_assembly_factory(schools=1, rotate_refresh_tokens=True)
    api.fake = fake
    pair = fake.school_token(1)
    fake.expire_access_tokens()
    assert (await api.get("/school", token=pair.access_token)).status == 401
    status, body = await token_call(api, {"grant_type": "refresh_token",
                                          "refresh_token": pair.refresh_token})
    assert status == 200 and body["refresh_token"] != pair.refresh_token
    assert (await api.get("/school", token=body["access_token"])).status == 200
    status, old = await token_call(api, {"grant_type": "refresh_token",
                                         "refresh_token": pair.refresh_token})
    assert status == 400 and old["error"] == "invalid_grant"


async def test_revoke_school(api: Api) -> None:
    fake = api.fake
    pair = fake.school_token(api.school_id)
    code = fake.issue_code(api.school_id)
    fake.revoke_school(api.school_id)
    r = await api.get("/students")
    assert r.status == 401 and r.body["error"] == "invalid_token"
    status, body = await token_call(api, {"grant_type": "refresh_token",
                                          "refresh_token": pair.refresh_token})
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await token_call(api, {"grant_type": "authorization_code", "code": code})
    assert (status, body["error"]) == (400, "invalid_grant")
    auths = (await api.get("/authorizations", token=fake.app_token)).body
    assert [a["school_id"] for a in auths["data"]] == fake.school_ids[1:]
    # the school can authorize the app again
    fresh = fake.issue_code(api.school_id)
    status, body = await token_call(api, {"grant_type": "authorization_code", "code": fresh})
    assert status == 200


async def test_deauthorize_endpoint(api: Api) -> None:
    pair = api.fake.school_token(api.school_id)
    r = await api.call("POST", "/school/deauthorize")
    assert r.status == 204
    assert (await api.get("/school")).status == 401
    status, body = await token_call(api, {"grant_type": "refresh_token",
                                          "refresh_token": pair.refresh_token})
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_authorize_redirect_and_code_exchange(api: Api) -> None:
    fake = api.fake
    r = await api.get("/oauth/authorize", version=None, token=None, allow_redirects=False,
                      params={"client_id": fake.client_id, "redirect_uri": "http://127.0.0.1:9/cb",
                              "scope": "students.basic:required school:optional",
                              "state": "xyz"})
    assert r.status == 302
    loc = urlsplit(r.headers["Location"])
    assert (loc.hostname, loc.port, loc.path) == ("127.0.0.1", 9, "/cb")
    q = parse_qs(loc.query)
    assert q["state"] == ["xyz"]
    status, body = await token_call(api, {"grant_type": "authorization_code",
                                          "code": q["code"][0],
                                          "redirect_uri": "http://127.0.0.1:9/cb"})
    assert status == 200 and body["school_id"] == fake.school_ids[0]
    assert set(body["scopes"]) == {"students.basic", "school"}
    bad = await api.get("/oauth/authorize", version=None, token=None, allow_redirects=False,
                        params={"client_id": "other", "redirect_uri": "http://x/cb"})
    assert bad.status == 400 and bad.body["error"] == "invalid_client"
