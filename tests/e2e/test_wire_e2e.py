"""Paging and token-handling rules over real loopback HTTP."""

from __future__ import annotations

import pytest
from aiohttp import web

import assembly_async as aa
from assembly_async.testing import FakeAssembly


@pytest.mark.parametrize("version", ["1.1", "1"])
@pytest.mark.parametrize("per_page", [7, 100, 1500])
async def test_both_versions_walk_every_record_exactly_once(
    fake_assembly: FakeAssembly, version: str, per_page: int
) -> None:
    async with aa.AssemblyClient(api_url=fake_assembly.api_url, api_version=version) as client:
        school = client.school(access_token=fake_assembly.school_token(1).access_token)
        ids = [s.id async for s in school.students.list(per_page=per_page)]
        assert sorted(ids) == sorted(fake_assembly.record_ids(1))
        assert len(ids) == len(set(ids))
        pages = -(-len(ids) // per_page)
        assert len(fake_assembly.stats.requests(path="/students")) == pages


async def test_default_walk_uses_ceil_n_over_1500_requests() -> None:
    async with FakeAssembly(schools=1, students_per_school=3100) as fake:
        async with aa.AssemblyClient(api_url=fake.api_url) as client:
            school = client.school(access_token=fake.school_token(1).access_token)
            assert len([s async for s in school.students.list()]) == 3100
            assert len(fake.stats.requests(path="/students")) == 3


async def test_a_redirect_is_not_followed_and_the_token_stays_home() -> None:
    seen: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"name": "stolen"})

    other = web.Application()
    other.router.add_get("/school", elsewhere)
    other_runner = web.AppRunner(other)
    await other_runner.setup()
    other_site = web.TCPSite(other_runner, "127.0.0.2", 0)
    await other_site.start()
    other_port = other_runner.addresses[0][1]

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{other_port}/school")

    api = web.Application()
    api.router.add_get("/school", redirect)
    api_runner = web.AppRunner(api)
    await api_runner.setup()
    api_site = web.TCPSite(api_runner, "127.0.0.1", 0)
    await api_site.start()
    api_port = api_runner.addresses[0][1]
    try:
        async with aa.AssemblyClient(api_url=f"http://127.0.0.1:{api_port}", retries=0) as c:
            with pytest.raises(aa.UnexpectedStatus) as info:
                await c.school(access_token="tok-SECRET").details.get()
            assert info.value.status == 302
            assert "tok-SECRET" not in str(info.value)
        assert seen == []  # the other host never saw a request, let alone the token
    finally:
        await api_runner.cleanup()
        await other_runner.cleanup()


async def test_readme_testing_snippet_runs() -> None:
    # The "Testing your own app" example of the README, verbatim in spirit.
    async with FakeAssembly(schools=3) as fake:
        async with aa.AssemblyClient(api_url=fake.api_url, oauth_url=fake.oauth_url) as client:
            school = client.school(access_token=fake.school_token(1).access_token)
            students = await school.students.list().all()
            assert len(students) == 200


async def test_aiohttp_trace_configs_are_passed_through(fake_assembly: FakeAssembly) -> None:
    from types import SimpleNamespace

    import aiohttp

    started: list[str] = []

    async def on_request_start(session: object, ctx: SimpleNamespace,
                               params: aiohttp.TraceRequestStartParams) -> None:
        started.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aa.AssemblyClient(api_url=fake_assembly.api_url, trace_configs=[trace]) as c:
        await c.school(access_token=fake_assembly.school_token(1).access_token).details.get()
    assert started == ["/school"]
