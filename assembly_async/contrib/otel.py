"""OpenTelemetry spans and metrics from the client's hook events.

::

    from assembly_async import AssemblyClient
    from assembly_async.contrib.otel import otel_hooks

    client = AssemblyClient(hooks=otel_hooks())   # the global tracer and meter providers

Every attempt of every request becomes one ``CLIENT`` span named
``"{method} {operationId}"`` (``GET getStudents``), timed from when it was
sent to its answer or failure, child of whatever span is current where the
call was made. Attributes follow the OpenTelemetry HTTP client conventions:
``http.request.method``, ``url.full`` (redacted: tokens never appear),
``server.address``, ``server.port``, ``http.response.status_code``,
``http.request.resend_count`` (retries), ``error.type``; plus
``assembly.school_id`` and ``assembly.operation_id``. Statuses >= 400 and
failures without an answer set the span's status to ERROR.

Metrics: ``http.client.request.duration`` (histogram, seconds, per method,
status and error type), ``assembly.client.retries``,
``assembly.client.token_refreshes``, ``assembly.client.not_modified``
(counters) and ``assembly.client.rate_limit.wait`` (histogram, seconds spent
waiting for a school's rate budget, 429 pauses included). School ids are not
metric attributes (one time series per school would not scale); they are on
the spans.

Needs ``opentelemetry-api`` (the ``otel`` extra); configure exporters with
the OpenTelemetry SDK as usual.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from yarl import URL

from .._core.version import __version__
from .._http.events import Event, Hooks

__all__ = ["OTelListener", "otel_hooks"]

SCOPE = "assembly_async"


class OTelListener:
    """Turns :class:`Event` objects into spans and metric points (one per client)."""

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "http.client.request.duration", unit="s",
            description="Duration of HTTP client requests (one per attempt).")
        self.retries = meter.create_counter(
            "assembly.client.retries", unit="{retry}", description="Attempts that were retried.")
        self.refreshes = meter.create_counter(
            "assembly.client.token_refreshes", unit="{refresh}",
            description="Requests replayed after a token refresh (401 invalid_token).")
        self.not_modified = meter.create_counter(
            "assembly.client.not_modified", unit="{response}",
            description="304 Not Modified answers to conditional requests.")
        self.waits = meter.create_histogram(
            "assembly.client.rate_limit.wait", unit="s",
            description="Time requests waited for their school's rate budget.")

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind in ("response", "error"):
            self._attempt(event)
        elif kind == "retry":
            self.retries.add(1, self._metric_attributes(event))
        elif kind == "refresh":
            self.refreshes.add(1, self._metric_attributes(event))
        elif kind == "not_modified":
            self.not_modified.add(1, self._metric_attributes(event))
        elif kind == "rate_limit_wait" and event.wait is not None:
            self.waits.record(event.wait, self._metric_attributes(event))

    @staticmethod
    def _metric_attributes(event: Event) -> dict[str, Any]:
        attributes: dict[str, Any] = {"http.request.method": event.method}
        if event.operation_id:
            attributes["assembly.operation_id"] = event.operation_id
        return attributes

    def _attempt(self, event: Event) -> None:
        """One finished attempt: a span timed by ``elapsed``, and a duration point."""
        end = time.time_ns()
        elapsed = event.elapsed or 0.0
        url = URL(event.url)
        attributes: dict[str, Any] = {
            "http.request.method": event.method,
            "url.full": event.url,
            "server.address": url.host or "",
            "http.request.resend_count": max(event.attempt - 1, 0),
        }
        if url.port is not None:
            attributes["server.port"] = url.port
        if event.school_id is not None:
            attributes["assembly.school_id"] = event.school_id
        if event.operation_id:
            attributes["assembly.operation_id"] = event.operation_id
        error_type: str | None = None
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
            if event.status >= 400:
                error_type = str(event.status)
        elif event.error is not None:
            error_type = type(event.error).__name__
        if error_type is not None:
            attributes["error.type"] = error_type
        name = f"{event.method} {event.operation_id}" if event.operation_id else event.method
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes,
                                      start_time=end - int(elapsed * 1e9))
        if error_type is not None:
            span.set_status(Status(StatusCode.ERROR, error_type))
        span.end(end_time=end)
        points = self._metric_attributes(event)
        if event.status is not None:
            points["http.response.status_code"] = event.status
        if error_type is not None:
            points["error.type"] = error_type
        self.duration.record(elapsed, points)


def otel_hooks(hooks: Hooks | None = None, *, tracer_provider: Any = None,
               meter_provider: Any = None) -> Hooks:
    """``hooks`` (or new :class:`Hooks`) that also report to OpenTelemetry.

    Pass the result as ``AssemblyClient(hooks=...)``. Without providers the
    global ones are used (set them with the OpenTelemetry SDK).
    """
    hooks = hooks if hooks is not None else Hooks()
    hooks.add("*", OTelListener(tracer_provider=tracer_provider, meter_provider=meter_provider))
    return hooks
