"""Retry decisions and backoff: pure functions, no I/O."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async._core.responses import error_for
from assembly_async._http import retry as _retry
from assembly_async._http.retry import RetryPolicy, backoff, retry_delay, should_retry

URL = "https://api.assembly.education/students"


def http(status: int, body: bytes = b"", headers: dict[str, str] | None = None,
         method: str = "GET") -> aa.HTTPError:
    return error_for(method, URL, status, headers or {}, body)


def conn(sent: bool, method: str = "GET") -> aa.ConnectionFailed:
    return aa.ConnectionFailed("reset", method=method, url=URL, request_sent=sent)


@pytest.mark.parametrize("error", [
    conn(True), conn(False),
    aa.RequestTimeout("slow", method="GET", url=URL),
    http(500), http(502, b"<html>502 Bad Gateway</html>"), http(503), http(504),
    http(429, b'{"error": "too many requests", "data": {"period": 3}}'),
    aa.DecodeError("cut short", url=URL),
    aa.UnexpectedContentType("html", url=URL, status=200, content_type="text/html",
                             method="GET"),
])
def test_transient_failures_of_a_get_are_retried(error: BaseException) -> None:
    assert should_retry(error, 1, "GET")
    assert should_retry(error, 3, "get", max_attempts=4)
    assert not should_retry(error, 4, "GET", max_attempts=4)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 406, 422, 501, 505, 302])
def test_client_errors_and_odd_statuses_are_not_retried(status: int) -> None:
    assert not should_retry(http(status), 1, "GET")
    assert not should_retry(http(status), 1, "POST", allow_unsafe=True)


def test_401_invalid_token_is_not_a_retry() -> None:
    error = http(401, b'{"error": "invalid_token"}')
    assert isinstance(error, aa.InvalidToken)
    assert not should_retry(error, 1, "GET")


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_writes_are_retried_only_when_never_sent(method: str) -> None:
    assert should_retry(conn(False, method), 1, method)
    assert not should_retry(conn(True, method), 1, method)
    assert not should_retry(aa.RequestTimeout("t", method=method, url=URL), 1, method)
    assert not should_retry(http(503, method=method), 1, method)
    assert not should_retry(aa.DecodeError("cut", url=URL), 1, method)
    # 429: the API refused the request before handling it.
    assert should_retry(http(429, method=method), 1, method)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_writes_retry_like_reads_when_the_caller_opts_in(method: str) -> None:
    assert should_retry(conn(True, method), 1, method, allow_unsafe=True)
    assert should_retry(http(503, method=method), 1, method, allow_unsafe=True)
    assert not should_retry(http(503, method=method), 4, method, allow_unsafe=True)


@pytest.mark.parametrize("error", [
    aa.ConfigurationError("bad"), aa.TokenUnavailable("none"), ValueError("x"),
    asyncio.CancelledError(), KeyboardInterrupt(),
])
def test_other_errors_are_never_retried(error: BaseException) -> None:
    assert not should_retry(error, 1, "GET")


def test_no_attempts_left_means_no_retry() -> None:
    assert not should_retry(http(503), 1, "GET", max_attempts=1)
    assert should_retry(http(503), 1, "GET", max_attempts=2)


@given(st.integers(min_value=1, max_value=60))
def test_backoff_is_full_jitter_below_the_exponential_ceiling(attempt: int) -> None:
    ceiling = min(_retry.BACKOFF_CAP, _retry.BACKOFF_BASE * 2 ** (attempt - 1))
    value = backoff(attempt)
    assert 0.0 <= value <= ceiling


def test_backoff_ceilings_double_then_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert [backoff(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert backoff(5) == 0.0


def test_retry_delay_leaves_429_pauses_to_the_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 7.0 + attempt)
    limited = http(429, b'{"error": "too many requests", "data": {"period": 12}}')
    assert retry_delay(limited, 1) == 0.0
    assert retry_delay(limited, 1, limiter_pauses=False) == 12.0
    assert retry_delay(http(429), 2) == 9.0  # no period given: back off
    assert retry_delay(http(503), 1) == 8.0


def test_policy_and_call_options_validate() -> None:
    assert RetryPolicy().max_attempts == 4 and RetryPolicy().deadline == 120.0
    with pytest.raises(aa.ConfigurationError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(aa.ConfigurationError):
        RetryPolicy(deadline=0)
    with pytest.raises(aa.ConfigurationError):
        aa.CallOptions(retries=-1)
    with pytest.raises(aa.ConfigurationError):
        aa.CallOptions(deadline=-5)
    options = aa.CallOptions(retries=0, deadline=None, retry_writes=True)
    assert options.retries == 0 and options.deadline is None
    assert aa.CallOptions().retries is aa.DEFAULT
