"""Pure tests of the sans-I/O core: no network, no event loop."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from yarl import URL

from assembly_async._core import errors as e
from assembly_async._core.operations import OPERATIONS
from assembly_async._core.paging import PageInfo, paging_from_envelope, paging_from_headers
from assembly_async._core.redact import hide_secrets, redact_url
from assembly_async._core.requests import accept_header, build_request, check_token_destination
from assembly_async._core.responses import (
    Validators,
    error_for,
    format_http_date,
    parse_http_date,
    read_validators,
    retry_after_seconds,
)

API = URL("https://api.assembly.education")


def req(op_id: str, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("version", "1.1")
    return build_request(API, OPERATIONS[op_id], **kw)


def test_accept_header_names_the_version() -> None:
    assert accept_header("1.1") == "application/vnd.assembly+json; version=1.1"
    assert req("getStudents", version="1").headers["Accept"].endswith("version=1")


def test_query_encoding_follows_the_wire_rules() -> None:
    r = req(
        "getStudents",
        query={
            "students": [1019, 1022],
            "demographics": True,
            "photo": False,
            "date": dt.date(2024, 1, 5),
        },
    )
    assert r.method == "GET"
    assert r.url.path == "/students"
    # ID lists space separated (sent as +), booleans true/false, dates YYYY-MM-DD.
    assert (
        r.url.raw_query_string == "students=1019+1022&date=2024-01-05&demographics=true&photo=false"
    )


def test_path_parameters_and_base_path() -> None:
    r = build_request(
        URL("http://127.0.0.1:8080/api"),
        OPERATIONS["getTeachingGroupStudents"],
        path_args={"id": 7},
        query={},
        version="1.1",
    )
    assert str(r.url) == "http://127.0.0.1:8080/api/teaching_groups/7/students"


def test_none_values_are_not_sent() -> None:
    r = req("getStudents", query={"year_code": None, "demographics": None})
    assert r.url.query_string == ""


def test_date_with_academic_year_raises_before_any_request() -> None:
    with pytest.raises(ValueError, match="date and academic_year_id cannot be combined"):
        req("getTeachingGroups", query={"date": "2024-01-01", "academic_year_id": 3})


def test_students_with_year_code_raises() -> None:
    with pytest.raises(e.ConfigurationError):
        req("getStudents", query={"students": [1], "year_code": "7"})


def test_care_adds_demographics() -> None:
    r = req("getStudents", query={"care": True})
    assert r.url.query["demographics"] == "true"
    assert r.url.query["care"] == "true"


def test_care_with_demographics_false_raises() -> None:
    with pytest.raises(e.ConfigurationError, match="needs demographics"):
        req("getStudents", query={"ever_in_care": True, "demographics": False})


@pytest.mark.parametrize("per_page", [0, 1501, -3])
def test_per_page_out_of_range_raises(per_page: int) -> None:
    with pytest.raises(ValueError, match="per_page"):
        req("getStudents", per_page=per_page)


def test_per_page_bounds_are_accepted() -> None:
    assert req("getStudents", per_page=1500).url.query["per_page"] == "1500"
    assert req("getStudents", per_page=1, page=3).url.query["page"] == "3"


@pytest.mark.parametrize("bad", ["2024-13-01", "01/02/2024", 20240101, "yesterday"])
def test_invalid_dates_raise(bad: object) -> None:
    with pytest.raises(e.ConfigurationError, match="date"):
        req("getStudents", query={"date": bad})


def test_wrong_types_raise() -> None:
    with pytest.raises(e.ConfigurationError):
        req("getStudents", query={"demographics": "yes"})
    with pytest.raises(e.ConfigurationError):
        req("getStudents", query={"students": ["a"]})
    with pytest.raises(e.ConfigurationError, match="unknown parameter"):
        req("getStudents", query={"colour": "red"})
    with pytest.raises(e.ConfigurationError, match="id is required"):
        req("findStudent", path_args={})


def test_required_query_param() -> None:
    with pytest.raises(e.ConfigurationError, match="students is required"):
        req("getResults", query={})


def test_conditional_headers() -> None:
    v = Validators(last_modified="Thu, 09 Mar 2017 18:05:23 GMT", etag='W/"abc"')
    r = req("getStudents", validators=v)
    assert r.headers["If-Modified-Since"] == "Thu, 09 Mar 2017 18:05:23 GMT"
    assert r.headers["If-None-Match"] == 'W/"abc"'
    assert read_validators({"last-modified": "x", "etag": "y"}) == Validators("x", "y")
    assert not Validators()


def test_body_sets_content_type() -> None:
    r = req("createResult", body=b"{}")
    assert r.method == "POST" and r.headers["Content-Type"] == "application/json"


def test_paging_from_v11_headers() -> None:
    h = {
        "page": "2",
        "total": "3001",
        "total-pages": "3",
        "per-page": "1500",
        "next-page": "3",
        "prev-page": "1",
    }
    assert paging_from_headers(h, 2) == PageInfo(2, 1500, 3001, 3, 3, 1)
    last = paging_from_headers({"page": "3", "next-page": "", "prev-page": "2"}, 3)
    assert last.next_page is None and last.prev_page == 2
    assert paging_from_headers({}, 4).page == 4


def test_paging_from_v1_envelope() -> None:
    meta = {
        "object": "list",
        "total_count": 250,
        "total_pages": 3,
        "current_page": 1,
        "prev_page": None,
        "next_page": 2,
    }
    assert paging_from_envelope(meta, 1) == PageInfo(1, None, 250, 3, 2, None)


def test_retry_after_from_429_body_and_header() -> None:
    body = {"error": "too many requests", "data": {"count": 601, "period": 300, "limit": 600}}
    assert retry_after_seconds({}, body) == 300.0
    assert retry_after_seconds({"retry-after": "12"}, None) == 12.0
    assert retry_after_seconds({}, {"error": "x"}) is None
    assert retry_after_seconds({"retry-after": "soon"}, None) is None


def test_http_dates_round_trip() -> None:
    moment = dt.datetime(2017, 3, 9, 18, 5, 23, tzinfo=dt.timezone.utc)
    text = format_http_date(moment)
    assert text == "Thu, 09 Mar 2017 18:05:23 GMT"
    assert parse_http_date(text) == moment
    assert parse_http_date("not a date") is None


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"error": "invalid_request", "message": "malformed date"}, e.BadRequest),
        (
            401,
            {"error": "invalid_request", "message": "an access_token is required."},
            e.InvalidRequest,
        ),
        (401, {"error": "invalid_token"}, e.InvalidToken),
        (401, {"error": "insufficient_scope"}, e.InsufficientScope),
        (401, {"error": "something_new"}, e.Unauthorized),
        (403, {"error": "forbidden"}, e.Forbidden),
        (404, {"error": "not_found", "message": "not found"}, e.NotFound),
        (406, {"error": "unsupported_version"}, e.UnsupportedVersion),
        (422, {"errors": {"results": ["bad"]}}, e.UnprocessableEntity),
        (500, {"error": "boom"}, e.ServerError),
        (503, None, e.ServerError),
        (418, None, e.UnexpectedStatus),
    ],
)
def test_status_maps_to_typed_error(status: int, body: object, cls: type) -> None:
    raw = orjson.dumps(body) if body is not None else b""
    err = error_for("GET", API / "students", status, {"content-type": "application/json"}, raw)
    assert type(err) is cls
    assert err.status == status and err.method == "GET"
    assert err.url == "https://api.assembly.education/students"
    if isinstance(body, dict) and "error" in body:
        assert err.error == body["error"]
        assert body["error"] in str(err)


def test_429_carries_the_wait() -> None:
    raw = orjson.dumps(
        {"error": "too many requests", "data": {"count": 601, "period": 42, "limit": 600}}
    )
    err = error_for("GET", API, 429, {}, raw)
    assert isinstance(err, e.RateLimited) and err.retry_after == 42
    assert "retry after 42s" in str(err)


def test_html_error_page_keeps_the_text() -> None:
    html = (
        b"<html><head><title>502 Bad Gateway</title></head><body>"
        + b"x" * 10000
        + b"</body></html>"
    )
    err = error_for("GET", API, 502, {"content-type": "text/html"}, html)
    assert isinstance(err, e.ServerError)
    assert err.body is None and err.error is None
    assert err.text.startswith("<html>") and len(err.text) <= e.BODY_EXCERPT_LIMIT
    assert "502 Bad Gateway" in str(err)


def test_errors_drop_auth_headers_and_redact_urls() -> None:
    err = error_for(
        "GET",
        "https://x/oauth/token?grant_type=refresh_token&refresh_token=SECRET",
        400,
        {"authorization": "Bearer SECRET", "x-request-id": "r1"},
        b"{}",
    )
    assert (
        "SECRET" not in str(err) and "SECRET" not in repr(err.headers) and "SECRET" not in err.url
    )
    assert err.headers == {"x-request-id": "r1"}
    assert redact_url("https://x/a?b=1") == "https://x/a?b=1"


def test_token_destination_rules() -> None:
    check_token_destination(API / "students", API)
    with pytest.raises(e.ConfigurationError, match="refusing"):
        check_token_destination(URL("https://evil.example/students"), API)
    local = URL("http://127.0.0.1:9999")
    check_token_destination(local / "students", local)
    with pytest.raises(e.ConfigurationError, match="plain HTTP"):
        check_token_destination(URL("http://api.example/students"), URL("http://api.example"))


@pytest.mark.parametrize(("text", "shown"), [
    ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
    ("redis://h/0?password=pw&db=1", "redis://h/0?password=***&db=1"),
    ("unix:///tmp/r.sock", "unix:///tmp/r.sock"),  # no secret: as written
    ("tokens.db", "tokens.db"),
    ("postgresql://u:pw@db/x", "postgresql://u:***@db/x"),
    ("redis://:pw@h:notaport/0", "<unparseable URL>"),  # never echoed
])
def test_hide_secrets_shows_a_typed_url_without_its_password(text: str, shown: str) -> None:
    assert hide_secrets(text) == shown
