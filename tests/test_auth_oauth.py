"""The sans-I/O OAuth layer and the Token type: URLs, requests, responses, redaction."""

from __future__ import annotations

import base64
import hmac
import string
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from assembly_async._core.errors import (
    ConfigurationError,
    DecodeError,
    OAuthError,
    SchoolAuthRevoked,
)
from assembly_async.auth import (
    PRODUCTION_OAUTH_BASE,
    REDACTED,
    SANDBOX_OAUTH_BASE,
    OAuthHosts,
    Scope,
    Token,
    TokenRequest,
    authorization_url,
    check_state,
    client_credentials_grant,
    code_grant,
    make_state,
    parse_callback,
    read_token_response,
    redact,
    refresh_grant,
)

# Secrets with characters that URL-encode differently, to catch encoded leaks too.
CLIENT_ID = "app-client-42"
CLIENT_SECRET = "cl1ent/secret+value=="
CODE = "auth-code/XYZ+987"
REFRESH = "refresh-token-Q/1+2=3"
ACCESS = "access-token-abc/def+ghi"
NEW_ACCESS = "new-access-token-123456"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
ALL_SECRETS = (CLIENT_SECRET, CODE, REFRESH, ACCESS, NEW_ACCESS, BASIC)
NOW = 1_700_000_000.0
JSON = {"Content-Type": "application/json; charset=utf-8"}


def assert_no_secret(text: str) -> None:
    for secret in ALL_SECRETS:
        for form in (secret, quote(secret, safe=""), quote_plus(secret, safe="")):
            assert form not in text, f"secret leaked: {text!r}"


def assert_exception_clean(exc: BaseException) -> None:
    assert_no_secret(str(exc))
    assert_no_secret(repr(exc))
    assert_no_secret(repr(exc.args))
    assert_no_secret(repr(vars(exc)))


def school_token(**changes: object) -> Token:
    fields: dict[str, object] = {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "token_type": "bearer",
        "level": "school",
        "expires_at": NOW + 3600,
        "school_id": 7,
        "scopes": ("students.basic", "school"),
    }
    fields.update(changes)
    return Token(**fields)  # type: ignore[arg-type]


def body(data: object) -> bytes:
    return orjson.dumps(data)


# ---------------------------------------------------------------------------
# hosts


def test_hosts_defaults_and_override() -> None:
    assert PRODUCTION_OAUTH_BASE == "https://platform.assembly.education"
    assert SANDBOX_OAUTH_BASE == "https://platform-sandbox.assembly.education"
    assert OAuthHosts.sandbox().token_url == f"{SANDBOX_OAUTH_BASE}/oauth/token"
    assert OAuthHosts.production().authorize_url == f"{PRODUCTION_OAUTH_BASE}/oauth/authorize"
    assert OAuthHosts.for_environment("sandbox") == OAuthHosts.sandbox()
    assert OAuthHosts.for_environment("production") == OAuthHosts.production()
    custom = OAuthHosts("https://sandbox.assembly.education/")
    assert custom.token_url == "https://sandbox.assembly.education/oauth/token"
    assert OAuthHosts("http://127.0.0.1:8080").token_url == "http://127.0.0.1:8080/oauth/token"


@pytest.mark.parametrize(
    "base",
    ["", "platform.assembly.education", "ftp://x.org", "https://x.org/?a=1", "https://u:p@x"],
)
def test_hosts_reject_bad_base(base: str) -> None:
    with pytest.raises(ConfigurationError):
        OAuthHosts(base)


def test_hosts_unknown_environment() -> None:
    with pytest.raises(ConfigurationError):
        OAuthHosts.for_environment("staging")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# state


def test_make_state_is_long_random_and_url_safe() -> None:
    states = {make_state() for _ in range(500)}
    assert len(states) == 500
    allowed = set(string.ascii_letters + string.digits + "-_")
    for state in states:
        assert len(state) >= 43  # 32 bytes of randomness
        assert set(state) <= allowed
    assert len(make_state(48)) >= 64
    with pytest.raises(ConfigurationError):
        make_state(8)


def test_check_state() -> None:
    state = make_state()
    assert check_state(state, state)
    assert check_state(state, str(state))
    assert not check_state(state, state[:-1])
    assert not check_state(state, state + "x")
    assert not check_state(state, None)
    assert not check_state(state, "")
    assert not check_state("", "")
    assert not check_state(None, None)
    assert not check_state(state, "é" * 10)  # non-ASCII must not raise


def test_check_state_uses_constant_time_compare(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return bool(real(a, b))

    monkeypatch.setattr(hmac, "compare_digest", spy)  # _authorize looks it up per call
    assert check_state("abc", "abc")
    assert not check_state("abc", "abd")
    assert calls == [(b"abc", b"abc"), (b"abc", b"abd")]


# ---------------------------------------------------------------------------
# authorisation URL and scopes


def test_authorization_url_shape_and_encoding() -> None:
    url = authorization_url(
        oauth_base=OAuthHosts.sandbox(),
        client_id=CLIENT_ID,
        redirect_uri="https://app.example/callback?x=1&y=2",
        scopes=["students.basic", ("school", "optional"), Scope("calendar", optional=True)],
        state="st@te/1",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == SANDBOX_OAUTH_BASE
    assert parts.path == "/oauth/authorize"
    raw = dict(pair.split("=", 1) for pair in parts.query.split("&"))
    assert list(raw) == ["client_id", "redirect_uri", "scope", "state"]
    # Space separated, sent as '+', each with its suffix.
    assert raw["scope"] == "students.basic:required+school:optional+calendar:optional"
    assert raw["redirect_uri"] == "https%3A%2F%2Fapp.example%2Fcallback%3Fx%3D1%26y%3D2"
    assert raw["state"] == "st%40te%2F1"
    query = parse_qs(parts.query)
    assert query == {
        "client_id": [CLIENT_ID],
        "redirect_uri": ["https://app.example/callback?x=1&y=2"],
        "scope": ["students.basic:required school:optional calendar:optional"],
        "state": ["st@te/1"],
    }


def test_authorization_url_accepts_string_base_and_scope_string() -> None:
    url = authorization_url(
        oauth_base="https://platform.assembly.education/",
        client_id="c",
        redirect_uri="https://a/cb",
        scopes="school students.basic:optional",
        state="s",
    )
    assert url.startswith("https://platform.assembly.education/oauth/authorize?")
    assert "scope=school:required+students.basic:optional&" in url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("students.basic", Scope("students.basic")),
        ("students.basic:required", Scope("students.basic")),
        ("students.basic:optional", Scope("students.basic", optional=True)),
        (("students.dob", "optional"), Scope("students.dob", optional=True)),
        (("students.dob", "required"), Scope("students.dob")),
        (("students.dob", True), Scope("students.dob", optional=True)),
        (Scope("x", optional=True), Scope("x", optional=True)),
    ],
)
def test_scope_parse(value: object, expected: Scope) -> None:
    assert Scope.parse(value) == expected  # type: ignore[arg-type]


def test_scope_str() -> None:
    assert str(Scope("school")) == "school:required"
    assert str(Scope("school", optional=True)) == "school:optional"


@pytest.mark.parametrize(
    "bad",
    ["", "students basic", "students.basic:maybe", ":optional", ("a", "sometimes"), ("a",), 3],
)
def test_scope_parse_rejects(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        Scope.parse(bad)  # type: ignore[arg-type]


def test_scope_list_validation() -> None:
    common = {"oauth_base": SANDBOX_OAUTH_BASE, "client_id": "c", "redirect_uri": "r", "state": "s"}
    with pytest.raises(ConfigurationError):
        authorization_url(scopes=[], **common)
    with pytest.raises(ConfigurationError):
        authorization_url(scopes=["school", "school:optional"], **common)
    with pytest.raises(ConfigurationError):
        authorization_url(scopes=["bad name"], **common)
    # exact duplicates collapse
    url = authorization_url(scopes=["school", "school:required"], **common)
    assert "scope=school:required&" in url
    for missing in ("client_id", "redirect_uri", "state"):
        with pytest.raises(ConfigurationError):
            authorization_url(scopes=["school"], **{**common, missing: ""})


# ---------------------------------------------------------------------------
# callback


def test_parse_callback_returns_code() -> None:
    state = make_state()
    url = f"https://app.example/cb?code={quote_plus(CODE)}&state={state}#frag"
    assert parse_callback(url, expected_state=state) == CODE
    assert parse_callback(f"code=abc&state={state}", expected_state=state) == "abc"
    assert parse_callback({"code": "abc", "state": state}, expected_state=state) == "abc"


def test_parse_callback_failures() -> None:
    state = make_state()
    with pytest.raises(OAuthError) as info:
        parse_callback({"code": CODE, "state": "other"}, expected_state=state)
    assert info.value.error == "state_mismatch"
    assert_exception_clean(info.value)
    assert state not in str(info.value)

    with pytest.raises(OAuthError) as info:
        parse_callback(
            {"error": "access_denied", "error_description": "no", "state": state},
            expected_state=state,
        )
    assert info.value.error == "access_denied"

    with pytest.raises(OAuthError) as info:
        parse_callback({"state": state}, expected_state=state)
    assert info.value.error == "missing_code"


# ---------------------------------------------------------------------------
# token requests


def basic_credentials(request: TokenRequest) -> str:
    scheme, _, value = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(value).decode()


def test_code_grant_request() -> None:
    request = code_grant(
        oauth_base=OAuthHosts.sandbox(),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        code=CODE,
        redirect_uri="https://app.example/cb",
    )
    assert request.method == "POST"
    assert request.url == f"{SANDBOX_OAUTH_BASE}/oauth/token"
    assert request.grant_type == "authorization_code"
    assert basic_credentials(request) == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert request.headers["Accept"] == "application/json"
    assert dict(request.params) == {
        "grant_type": "authorization_code",
        "code": CODE,
        "redirect_uri": "https://app.example/cb",
    }


def test_refresh_grant_request() -> None:
    request = refresh_grant(
        oauth_base=PRODUCTION_OAUTH_BASE,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH,
    )
    assert request.url == f"{PRODUCTION_OAUTH_BASE}/oauth/token"
    assert basic_credentials(request) == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert dict(request.params) == {"grant_type": "refresh_token", "refresh_token": REFRESH}


def test_client_credentials_request() -> None:
    request = client_credentials_grant(
        oauth_base=SANDBOX_OAUTH_BASE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert request.grant_type == "client_credentials"
    assert dict(request.params) == {"grant_type": "client_credentials"}
    assert basic_credentials(request) == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert dict(request.headers) == {
        "Authorization": f"Basic {BASIC}",
        "Accept": "application/json",
    }


def test_token_request_is_read_only() -> None:
    request = client_credentials_grant(
        oauth_base=SANDBOX_OAUTH_BASE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    with pytest.raises(TypeError):
        request.params["grant_type"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        request.url = "https://evil"  # type: ignore[misc]


def test_token_request_validation() -> None:
    with pytest.raises(ConfigurationError):
        client_credentials_grant(oauth_base=SANDBOX_OAUTH_BASE, client_id="a:b", client_secret="s")
    with pytest.raises(ConfigurationError):
        client_credentials_grant(oauth_base=SANDBOX_OAUTH_BASE, client_id="a", client_secret="")
    with pytest.raises(ConfigurationError):
        refresh_grant(
            oauth_base=SANDBOX_OAUTH_BASE, client_id="a", client_secret="s", refresh_token=""
        )
    with pytest.raises(ConfigurationError):
        code_grant(
            oauth_base=SANDBOX_OAUTH_BASE,
            client_id="a",
            client_secret="s",
            code="",
            redirect_uri="r",
        )


def all_requests() -> list[TokenRequest]:
    out = []
    for params_in in ("body", "query"):
        creds: dict[str, Any] = {
            "oauth_base": SANDBOX_OAUTH_BASE,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "params_in": params_in,
        }
        out += [
            code_grant(code=CODE, redirect_uri="https://app.example/cb", **creds),
            refresh_grant(refresh_token=REFRESH, **creds),
            client_credentials_grant(**creds),
        ]
    return out


@pytest.mark.parametrize("request_", all_requests(),
                         ids=lambda r: f"{r.grant_type}-{r.params_in}")
def test_token_request_repr_hides_secrets(request_: TokenRequest) -> None:
    for text in (repr(request_), str(request_), request_.redacted_url()):
        assert_no_secret(text)
        assert CLIENT_ID in text or "oauth/token" in text
    assert REDACTED in repr(request_)
    assert request_.redacted_headers()["Authorization"] == REDACTED
    if request_.params_in == "query":
        assert request_.redacted_url().startswith(
            f"{SANDBOX_OAUTH_BASE}/oauth/token?grant_type=")
        assert request_.body is None and "?grant_type=" in request_.target_url
    else:
        # Grant parameters in the form body (the new default): the URL has no query.
        assert request_.redacted_url() == f"{SANDBOX_OAUTH_BASE}/oauth/token"
        assert request_.target_url == request_.url
        assert request_.body is not None
        assert parse_qs(request_.body.decode()) == {k: [v] for k, v in request_.params.items()}
        assert request_.send_headers["Content-Type"] == "application/x-www-form-urlencoded"


# ---------------------------------------------------------------------------
# Token


def test_token_repr_hides_secrets() -> None:
    token = school_token()
    for text in (repr(token), str(token), f"{token}", f"{token!r}"):
        assert_no_secret(text)
        assert "access_token=<redacted>" in text
        assert "refresh_token=<redacted>" in text
        assert "school_id=7" in text
    app = school_token(refresh_token=None, level="app", school_id=None, expires_at=None)
    assert "refresh_token=None" in repr(app)


def test_token_expiry() -> None:
    token = school_token(expires_at=NOW + 100)
    assert not token.expires_within(60, now=NOW)
    assert token.expires_within(100, now=NOW)
    assert token.expires_within(120, now=NOW)
    assert not token.is_expired(now=NOW)
    assert token.is_expired(now=NOW + 100)
    never = school_token(expires_at=None)
    assert not never.expires_within(10**9, now=NOW)
    assert not never.is_expired()
    # default clock: a token that expired in 2023 is expired now
    assert school_token(expires_at=NOW).is_expired()


def test_token_authorization_header() -> None:
    assert school_token().authorization_header() == f"Bearer {ACCESS}"


@pytest.mark.parametrize(
    "changes",
    [
        {"access_token": ""},
        {"access_token": None},
        {"refresh_token": ""},
        {"level": "district"},
        {"expires_at": "soon"},
        {"school_id": "7"},
        {"school_id": True},
        {"scopes": "school"},
        {"scopes": [1]},
    ],
)
def test_token_validation(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError) as info:
        school_token(**changes)
    assert_no_secret(str(info.value))


def test_token_dict_round_trip() -> None:
    token = school_token(usable=False)
    data = token.to_dict()
    assert data["access_token"] == ACCESS
    assert data["refresh_token"] == REFRESH
    assert data["scopes"] == ["students.basic", "school"]
    assert orjson.loads(orjson.dumps(data)) == data
    assert Token.from_dict(data) == token
    assert Token.from_dict(orjson.loads(orjson.dumps(data))) == token


@given(
    access=st.text(min_size=1),
    refresh=st.none() | st.text(min_size=1),
    level=st.sampled_from(["school", "app"]),
    expires_at=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    school_id=st.none() | st.integers(min_value=0, max_value=2**53),
    scopes=st.lists(st.text()).map(tuple),
    usable=st.booleans(),
)
def test_token_dict_round_trip_property(
    access: str,
    refresh: str | None,
    level: str,
    expires_at: float | None,
    school_id: int | None,
    scopes: tuple[str, ...],
    usable: bool,
) -> None:
    token = Token(
        access_token=access,
        refresh_token=refresh,
        token_type="bearer",
        level=level,  # type: ignore[arg-type]
        expires_at=expires_at,
        school_id=school_id,
        scopes=scopes,
        usable=usable,
    )
    assert Token.from_dict(orjson.loads(orjson.dumps(token.to_dict()))) == token


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"v": 99},
        {"token_type": "bearer", "level": "school"},
        {"access_token": ACCESS, "token_type": "bearer", "level": "nope"},
        {"access_token": ACCESS, "token_type": 3, "level": "school"},
        {"access_token": ACCESS, "token_type": "bearer", "level": "school", "usable": "yes"},
        {"access_token": ACCESS, "token_type": "bearer", "level": "school", "scopes": [1]},
    ],
)
def test_token_from_dict_rejects(data: object) -> None:
    with pytest.raises(DecodeError) as info:
        Token.from_dict(data)  # type: ignore[arg-type]
    assert_exception_clean(info.value)


# ---------------------------------------------------------------------------
# token responses: success


def test_code_grant_response() -> None:
    answer = {
        "access_token": NEW_ACCESS,
        "refresh_token": REFRESH,
        "token_type": "bearer",
        "level": "school",
        "expires_in": 86400,
        "school_id": 12,
        "scopes": ["students.basic", "school"],
    }
    token = read_token_response(200, JSON, body(answer), now=NOW, school_id=12)
    assert token == Token(
        access_token=NEW_ACCESS,
        refresh_token=REFRESH,
        token_type="bearer",
        level="school",
        expires_at=NOW + 86400,
        school_id=12,
        scopes=("students.basic", "school"),
    )
    assert token.usable


def test_client_credentials_response_never_expires() -> None:
    answer = {
        "access_token": NEW_ACCESS,
        "token_type": "bearer",
        "level": "app",
        "expires_in": None,
    }
    token = read_token_response(200, JSON, body(answer), now=NOW)
    assert token.level == "app"
    assert token.expires_at is None
    assert token.refresh_token is None
    assert token.school_id is None
    assert token.scopes == ()
    assert not token.expires_within(10**9, now=NOW)


def test_refresh_response_keeps_previous_refresh_token() -> None:
    previous = school_token()
    answer = {
        "access_token": NEW_ACCESS,
        "token_type": "bearer",
        "level": "school",
        "expires_in": 108000,
        "school_id": 7,
        "scopes": ["students.basic"],
    }
    token = read_token_response(200, JSON, body(answer), now=NOW, previous=previous)
    assert token.access_token == NEW_ACCESS
    assert token.refresh_token == REFRESH
    assert token.expires_at == NOW + 108000
    assert token.scopes == ("students.basic",)


def test_refresh_response_with_new_refresh_token_uses_it() -> None:
    answer = {"access_token": NEW_ACCESS, "refresh_token": "rotated-1", "token_type": "bearer"}
    token = Token.from_response(answer, now=NOW, previous=school_token())
    assert token.refresh_token == "rotated-1"
    # level, school and scopes fall back to the previous token when absent
    assert token.level == "school"
    assert token.school_id == 7
    assert token.scopes == ("students.basic", "school")


def test_response_tolerates_variants() -> None:
    answer = {
        "access_token": NEW_ACCESS,
        "token_type": "Bearer",
        "expires_in": "3600",
        "school_id": "9",
        "scope": "school students.basic",
    }
    token = Token.from_response(answer, now=NOW)
    assert token.expires_at == NOW + 3600
    assert token.school_id == 9
    assert token.level == "school"
    assert token.scopes == ("school", "students.basic")


def test_response_school_id_from_caller() -> None:
    answer = {"access_token": NEW_ACCESS, "token_type": "bearer", "level": "school"}
    token = read_token_response(200, JSON, body(answer), now=NOW, school_id=33)
    assert token.school_id == 33


def test_response_for_another_school_is_refused() -> None:
    answer = {"access_token": NEW_ACCESS, "token_type": "bearer", "level": "school", "school_id": 5}
    with pytest.raises(OAuthError, match="school 5 where school 6") as info:
        read_token_response(200, JSON, body(answer), now=NOW, school_id=6)
    assert_exception_clean(info.value)


@pytest.mark.parametrize(
    "answer",
    [
        {"token_type": "bearer", "level": "school"},
        {"access_token": "", "token_type": "bearer"},
        {"access_token": 123, "token_type": "bearer"},
        {"access_token": NEW_ACCESS, "level": "district"},
        {"access_token": NEW_ACCESS, "expires_in": "soon"},
        {"access_token": NEW_ACCESS, "expires_in": "nan"},
        {"access_token": NEW_ACCESS, "expires_in": True},
        {"access_token": NEW_ACCESS, "school_id": 1.5},
        {"access_token": NEW_ACCESS, "scopes": [1, 2]},
        {"access_token": NEW_ACCESS, "refresh_token": 5},
        {"access_token": NEW_ACCESS, "token_type": 5},
        ["not", "an", "object"],
    ],
)
def test_malformed_success_body(answer: object) -> None:
    with pytest.raises(OAuthError) as info:
        read_token_response(200, JSON, body(answer), now=NOW, request=all_requests()[1])
    assert info.value.status == 200
    assert_exception_clean(info.value)


def test_success_status_with_html_body() -> None:
    html = f"<html><body>access_token={NEW_ACCESS}</body></html>".encode()
    with pytest.raises(OAuthError, match="not JSON") as info:
        read_token_response(200, {"content-type": "text/html"}, html, now=NOW)
    assert info.value.status == 200
    # A 2xx body is never quoted: it may carry a token in a format we do not know.
    assert_exception_clean(info.value)
    assert "text/html" in str(info.value)


# ---------------------------------------------------------------------------
# token responses: errors


@pytest.mark.parametrize("status", [400, 401])
def test_invalid_grant_on_refresh_is_school_auth_revoked(status: int) -> None:
    err = body({"error": "invalid_grant", "error_description": "The provided grant is invalid"})
    with pytest.raises(SchoolAuthRevoked) as info:
        read_token_response(
            status,
            JSON,
            err,
            now=NOW,
            previous=school_token(),
            school_id=7,
            request=all_requests()[1],
        )
    exc = info.value
    assert isinstance(exc, OAuthError)
    assert exc.school_id == 7
    assert exc.error == "invalid_grant"
    assert exc.status == status
    assert "school 7" in str(exc)
    assert_exception_clean(exc)


def test_invalid_grant_school_id_from_previous_and_without_request() -> None:
    err = body({"error": "invalid_grant"})
    with pytest.raises(SchoolAuthRevoked) as info:
        read_token_response(400, JSON, err, now=NOW, previous=school_token(school_id=99))
    assert info.value.school_id == 99
    with pytest.raises(SchoolAuthRevoked) as info:
        read_token_response(400, JSON, err, now=NOW)
    assert info.value.school_id is None


def test_invalid_grant_on_code_exchange_is_plain_oauth_error() -> None:
    err = body({"error": "invalid_grant", "message": "code expired"})
    with pytest.raises(OAuthError) as info:
        read_token_response(400, JSON, err, now=NOW, request=all_requests()[0])
    assert not isinstance(info.value, SchoolAuthRevoked)
    assert info.value.error == "invalid_grant"
    assert "authorization_code" in str(info.value)
    assert_exception_clean(info.value)


@pytest.mark.parametrize(
    ("status", "payload", "code"),
    [
        (
            401,
            {"error": "invalid_client", "message": "Client authentication failed"},
            "invalid_client",
        ),
        (400, {"error": "unsupported_grant_type"}, "unsupported_grant_type"),
        (400, {"error": "invalid_request", "error_description": "missing code"}, "invalid_request"),
        (500, {"message": "boom"}, None),
        (429, {"error": "too many requests", "data": {"count": 601}}, "too many requests"),
    ],
)
def test_other_errors_are_oauth_errors(status: int, payload: object, code: str | None) -> None:
    with pytest.raises(OAuthError) as info:
        read_token_response(
            status, JSON, body(payload), now=NOW, previous=school_token(), request=all_requests()[1]
        )
    exc = info.value
    assert not isinstance(exc, SchoolAuthRevoked)
    assert exc.error == code
    assert exc.status == status
    assert f"HTTP {status}" in str(exc)
    assert_exception_clean(exc)


def test_error_code_from_www_authenticate() -> None:
    headers = {"WWW-Authenticate": 'Basic realm="Doorkeeper", error="invalid_client"'}
    with pytest.raises(OAuthError) as info:
        read_token_response(401, headers, b"", now=NOW)
    assert info.value.error == "invalid_client"


def test_html_error_body() -> None:
    html = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    with pytest.raises(OAuthError) as info:
        read_token_response(
            502, {"Content-Type": "text/html"}, html.encode(), now=NOW, request=all_requests()[1]
        )
    exc = info.value
    assert exc.status == 502
    assert exc.error is None
    text = str(exc)
    assert "non-JSON body" in text
    assert "text/html" in text
    assert "502 Bad Gateway" in text
    assert len(text) < 500


def test_empty_and_undecodable_error_bodies() -> None:
    with pytest.raises(OAuthError, match="empty body"):
        read_token_response(503, {}, b"", now=NOW)
    with pytest.raises(OAuthError, match="non-JSON"):
        read_token_response(500, {}, b"\xff\xfe\x00garbage", now=NOW)
    with pytest.raises(OAuthError, match="JSON without an error code"):
        read_token_response(500, JSON, b"[1, 2]", now=NOW)


def test_echoed_secrets_are_redacted_from_errors() -> None:
    """A server that echoes the request back must not leak it into our exceptions."""
    previous = school_token()  # ACCESS and REFRESH
    for request in all_requests():
        # Everything the server could know: what the request carried plus the previous token.
        known = [*request.secret_values, ACCESS, REFRESH]
        echo = " ".join(known)
        encoded = " ".join(f"{quote_plus(s)} {quote(s, safe='')}" for s in known)
        cases: list[tuple[int, dict[str, str], bytes]] = [
            (400, JSON, body({"error": f"bad {REFRESH}", "error_description": echo})),
            (401, JSON, body({"error": "invalid_client", "message": echo})),
            (400, JSON, body({"error": "invalid_grant", "message": echo})),
            (500, {"Content-Type": f"text/html; {CLIENT_SECRET}"}, f"<p>{echo}</p>".encode()),
            (500, JSON, body({"unexpected": echo})),
            (500, {}, f"<p>{encoded}</p>".encode()),
        ]
        for status, headers, payload in cases:
            with pytest.raises(OAuthError) as info:
                read_token_response(
                    status, headers, payload, now=NOW, previous=previous, request=request
                )
            assert_exception_clean(info.value)


# ---------------------------------------------------------------------------
# redact


def test_redact() -> None:
    assert redact(f"token={ACCESS}&x=1", [ACCESS]) == "token=<redacted>&x=1"
    assert redact(f"?code={quote_plus(CODE)}", [CODE]) == "?code=<redacted>"
    assert redact(f"?r={quote(REFRESH, safe='')}", [REFRESH]) == "?r=<redacted>"
    assert redact("nothing here", [ACCESS, None, ""]) == "nothing here"
    assert redact("", [ACCESS]) == ""
    assert redact("abcdef", ["abc", "abcdef"]) == "<redacted>"
    # a short secret is not matched inside an earlier replacement
    assert redact("xx secret xx", ["secret", "e"]) == "xx <redacted> xx"


@given(
    before=st.text(),
    after=st.text(),
    secret=st.text(min_size=1).filter(lambda s: "<" not in s and ">" not in s),
)
def test_redact_property(before: str, after: str, secret: str) -> None:
    assume(secret not in REDACTED)
    out = redact(before + secret + after + secret, [secret])
    assert secret not in out
    assert REDACTED in out
