"""The otel extra: spans and metrics from hook events, read back through the
OpenTelemetry SDK's in-memory exporter and metric reader."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import assembly_async as aa
from assembly_async.contrib.otel import otel_hooks
from assembly_async.testing import FakeAssembly

SCHOOL = 1


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def hooks(self, hooks: aa.Hooks | None = None) -> aa.Hooks:
        return otel_hooks(hooks, tracer_provider=self.tracer_provider,
                          meter_provider=self.meter_provider)

    def metrics(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        assert data is not None
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    out[metric.name] = list(metric.data.data_points)
        return out


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


async def test_one_span_per_attempt_with_http_attributes(
        fake_assembly: FakeAssembly, telemetry: Telemetry) -> None:
    sid = fake_assembly.record_ids(SCHOOL)[0]
    fake_assembly.faults.script(f"/students/{sid}", ["503"])
    seen: list[aa.Event] = []
    token = fake_assembly.school_token(SCHOOL).access_token
    async with aa.AssemblyClient(api_url=fake_assembly.api_url,
                                 hooks=telemetry.hooks(aa.Hooks(on_retry=seen.append))
                                 ) as client:
        tracer = telemetry.tracer_provider.get_tracer("app")
        with tracer.start_as_current_span("handler") as parent:
            student = await client.school(SCHOOL, access_token=token).students.get(sid)
    assert student.id == sid and len(seen) == 1  # the hooks given were kept
    spans = [s for s in telemetry.spans.get_finished_spans() if s.name != "handler"]
    assert [s.name for s in spans] == ["GET findStudent", "GET findStudent"]
    failed, ok = spans
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == parent.get_span_context().span_id
        attrs = dict(span.attributes or {})
        assert attrs["http.request.method"] == "GET"
        assert attrs["url.full"].endswith(f"/students/{sid}")
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["assembly.school_id"] == SCHOOL
        assert attrs["assembly.operation_id"] == "findStudent"
        assert span.end_time is not None and span.start_time is not None
        assert span.end_time >= span.start_time
        assert token not in repr(attrs)
    assert failed.attributes is not None and ok.attributes is not None
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.attributes["error.type"] == "503"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["http.request.resend_count"] == 0
    assert ok.attributes["http.response.status_code"] == 200
    assert ok.attributes["http.request.resend_count"] == 1
    assert ok.status.status_code is StatusCode.UNSET
    metrics = telemetry.metrics()
    durations = metrics["http.client.request.duration"]
    by_status = {p.attributes["http.response.status_code"]: p.count for p in durations}
    assert by_status == {503: 1, 200: 1}
    assert sum(p.value for p in metrics["assembly.client.retries"]) == 1


async def test_a_failure_without_an_answer_is_an_error_span(telemetry: Telemetry) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with aa.AssemblyClient(api_url=f"http://127.0.0.1:{port}", retries=1,
                                 hooks=telemetry.hooks()) as client:
        with pytest.raises(aa.ConnectionFailed):
            await client.school(SCHOOL, access_token="t").students.get(1)
    spans = telemetry.spans.get_finished_spans()
    assert len(spans) == 2  # every attempt, the last one included
    for span in spans:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None
        assert span.attributes["error.type"] == "ConnectionFailed"
        assert "http.response.status_code" not in span.attributes
    points = telemetry.metrics()["http.client.request.duration"]
    assert [p.attributes["error.type"] for p in points] == ["ConnectionFailed"]
    assert points[0].count == 2


async def test_not_modified_and_rate_limit_waits_are_counted(
        fake_assembly: FakeAssembly, telemetry: Telemetry) -> None:
    token = fake_assembly.school_token(SCHOOL).access_token
    async with aa.AssemblyClient(api_url=fake_assembly.api_url, hooks=telemetry.hooks(),
                                 rate_limit=1, rate_window=0.05) as client:
        school = client.school(SCHOOL, access_token=token)
        state = aa.MemorySyncState()
        for _ in range(2):
            delta = school.students.changes(state=state)
            async with delta:
                _ = [s async for s in delta]
    metrics = telemetry.metrics()
    assert sum(p.value for p in metrics["assembly.client.not_modified"]) >= 1
    waits = metrics["assembly.client.rate_limit.wait"]
    assert sum(p.count for p in waits) >= 1 and all(p.sum >= 0 for p in waits)


def test_every_event_kind_is_handled(telemetry: Telemetry) -> None:
    """No kind of event makes the listener raise (a listener error is only logged,
    so it would go unnoticed)."""
    from assembly_async._http.events import EVENT_KINDS
    from assembly_async.contrib.otel import OTelListener

    listener = OTelListener(tracer_provider=telemetry.tracer_provider,
                            meter_provider=telemetry.meter_provider)
    for kind in EVENT_KINDS:
        listener(aa.Event(kind=kind, method="GET", url="https://api.example/x", school_id=1,
                          attempt=1, status=200 if kind == "response" else None,
                          elapsed=0.01, wait=0.5, error=None))
