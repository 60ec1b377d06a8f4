"""Hook events against the fake: every attempt that starts ends in exactly one
``response`` (an HTTP answer) or ``error`` (none), whatever the faults."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async.testing import FakeAssembly

FAULTS = st.lists(st.sampled_from(["503", "reset", "html502", "truncated", "pass", "delay:0.01"]),
                  max_size=4)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    import assembly_async._http.retry as retry_mod

    monkeypatch.setattr(retry_mod, "backoff", lambda attempt: 0.0)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=FAULTS)
async def test_each_attempt_ends_in_one_response_or_error(faults: list[str]) -> None:
    async with FakeAssembly(schools=1, students_per_school=3, staff_per_school=1,
                            teaching_groups_per_year=1, attendance_days=1) as fake:
        sid = fake.record_ids(1)[0]
        fake.faults.script(f"/students/{sid}", faults)
        events: list[aa.Event] = []
        async with aa.AssemblyClient(api_url=fake.api_url, hooks=aa.Hooks(on_event=events.append),
                                     retries=5, rate_limit=None) as client:
            school = client.school(1, access_token=fake.school_token(1).access_token)
            try:
                await school.students.get(sid, options=aa.CallOptions(deadline=None))
            except aa.AssemblyError:
                pass
    starts = [e.attempt for e in events if e.kind == "request"]
    ends = [e for e in events if e.kind in ("response", "error")]
    assert [e.attempt for e in ends] == starts
    for e in ends:
        assert (e.status is None) == (e.kind == "error")
        assert e.elapsed is not None and e.elapsed >= 0
        if e.kind == "error":
            assert isinstance(e.error, aa.TransportError)
