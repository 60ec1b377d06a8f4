"""Tokens, refresh tokens and authorization codes issued by the fake."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ._config import FakeConfig
from ._http import ApiError
from ._opspec import all_scopes, implied_scopes
from ._util import token_id


@dataclass(frozen=True)
class TokenPair:
    """A school's access token and the refresh token that goes with it."""

    school_id: int
    access_token: str
    refresh_token: str
    scopes: tuple[str, ...]
    expires_in: int


@dataclass
class Token:
    value: str
    level: str  # "app" | "school"
    school_id: int | None
    scopes: frozenset[str]
    expires_at: float | None
    revoked: bool = False

    @property
    def id(self) -> str:
        return token_id(self.value)


@dataclass
class Grant:
    """A refresh token or an authorization code."""

    value: str
    school_id: int
    scopes: frozenset[str]
    redirect_uri: str | None = None
    used: bool = False
    revoked: bool = False
    access_tokens: list[str] = field(default_factory=list)


def parse_scope_param(text: str | None) -> frozenset[str] | None:
    """``students.basic:required students.upn:optional`` -> the scope names."""
    if not text:
        return None
    names = [p.split(":", 1)[0] for p in text.replace("+", " ").split() if p]
    return frozenset(names) if names else None


class AuthRegistry:
    def __init__(self, cfg: FakeConfig, now: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.now = now
        self._rng = random.Random(f"tokens-{cfg.seed}")
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.codes: dict[str, Grant] = {}
        self.revoked_schools: set[int] = set()
        app = self._new_token("app", "app", None, frozenset(), None)
        self.app_token = app.value
        self.initial: dict[int, TokenPair] = {
            sid: self.issue_school(sid) for sid in cfg.school_ids
        }

    # ---- issuing -----------------------------------------------------------
    def _secret(self, prefix: str) -> str:
        return f"{prefix}_{self._rng.getrandbits(160):040x}"

    def _new_token(self, prefix: str, level: str, school_id: int | None,
                   scopes: frozenset[str], ttl: int | None) -> Token:
        tok = Token(self._secret(prefix), level, school_id, scopes,
                    None if ttl is None else self.now() + ttl)
        self.tokens[tok.value] = tok
        return tok

    def _scopes(self, scopes: Iterable[str] | None) -> frozenset[str]:
        return frozenset(all_scopes()) if scopes is None else implied_scopes(set(scopes))

    def issue_school(self, school_id: int, scopes: Iterable[str] | None = None) -> TokenPair:
        self._check_school(school_id)
        granted = self._scopes(scopes)
        self.revoked_schools.discard(school_id)
        access = self._new_token("at", "school", school_id, granted, self.cfg.access_token_ttl)
        refresh = Grant(self._secret("rt"), school_id, granted, access_tokens=[access.value])
        self.refresh_tokens[refresh.value] = refresh
        return TokenPair(school_id, access.value, refresh.value, tuple(sorted(granted)),
                         self.cfg.access_token_ttl)

    def issue_code(self, school_id: int, scopes: Iterable[str] | None = None,
                   redirect_uri: str | None = None) -> str:
        self._check_school(school_id)
        code = Grant(self._secret("code"), school_id, self._scopes(scopes), redirect_uri)
        self.codes[code.value] = code
        return code.value

    def _check_school(self, school_id: int) -> None:
        if school_id not in self.cfg.school_ids:
            raise KeyError(f"unknown school {school_id}")

    # ---- grants --------------------------------------------------------------
    def client_credentials(self) -> dict[str, Any]:
        tok = self._new_token("app", "app", None, frozenset(), None)
        return {"access_token": tok.value, "token_type": "bearer", "level": "app",
                "expires_in": None}

    def exchange_code(self, code: str | None, redirect_uri: str | None) -> dict[str, Any]:
        grant = self.codes.get(code or "")
        if grant is None or grant.used or grant.revoked:
            raise ApiError(400, "invalid_grant", "The authorization code is invalid or was used")
        expected = grant.redirect_uri or self.cfg.redirect_uri
        if expected is not None and redirect_uri != expected:
            raise ApiError(400, "invalid_grant", "redirect_uri does not match")
        grant.used = True
        self.revoked_schools.discard(grant.school_id)
        pair = self.issue_school(grant.school_id, grant.scopes)
        return self._school_body(pair.access_token, pair.refresh_token, grant.school_id,
                                 grant.scopes)

    def refresh(self, value: str | None) -> dict[str, Any]:
        grant = self.refresh_tokens.get(value or "")
        if grant is None or grant.revoked or grant.used:
            raise ApiError(400, "invalid_grant", "The refresh token is invalid")
        access = self._new_token("at", "school", grant.school_id, grant.scopes,
                                 self.cfg.access_token_ttl)
        new_refresh: str | None = None
        if self.cfg.rotate_refresh_tokens:
            grant.used = True
            nxt = Grant(self._secret("rt"), grant.school_id, grant.scopes,
                        access_tokens=[access.value])
            self.refresh_tokens[nxt.value] = nxt
            new_refresh = nxt.value
        else:
            grant.access_tokens.append(access.value)
        return self._school_body(access.value, new_refresh, grant.school_id, grant.scopes)

    def _school_body(self, access: str, refresh: str | None, school_id: int,
                     scopes: frozenset[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": access}
        if refresh is not None:
            body["refresh_token"] = refresh
        body.update({"token_type": "bearer", "level": "school",
                     "expires_in": self.cfg.access_token_ttl, "school_id": school_id,
                     "scopes": sorted(scopes)})
        return body

    # ---- checking and control -------------------------------------------------
    def authenticate(self, value: str) -> Token:
        tok = self.tokens.get(value)
        if tok is None:
            raise ApiError(401, "invalid_token", "The access token is invalid")
        if tok.revoked:
            raise ApiError(401, "invalid_token", "The access token was revoked")
        if tok.expires_at is not None and self.now() >= tok.expires_at:
            raise ApiError(401, "invalid_token", "The access token expired")
        return tok

    def expire(self, school_id: int | None = None) -> int:
        n = 0
        now = self.now()
        for tok in self.tokens.values():
            if tok.level == "school" and school_id in (None, tok.school_id):
                if tok.expires_at is None or tok.expires_at > now:
                    tok.expires_at = now - 1
                    n += 1
        return n

    def revoke_school(self, school_id: int) -> None:
        self._check_school(school_id)
        self.revoked_schools.add(school_id)
        for tok in self.tokens.values():
            if tok.school_id == school_id:
                tok.revoked = True
        for grant in list(self.refresh_tokens.values()) + list(self.codes.values()):
            if grant.school_id == school_id:
                grant.revoked = True

    def authorized_schools(self) -> list[int]:
        return [s for s in self.cfg.school_ids if s not in self.revoked_schools]
