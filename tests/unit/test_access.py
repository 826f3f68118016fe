"""Analyst tokens: authentication by digest, authorization by tenant and role."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fleetpulse.access import (
    ForbiddenError,
    Principal,
    TokenRing,
    UnauthorizedError,
    authorize,
    bearer,
    cli_token,
    ensure_operator_token,
    token_ring,
)
from fleetpulse.settings import AnalystToken, load_settings
from ingest.auth import hashed_form

READER_A = Principal(name="alice", role="reader", tenant="a")
ADMIN_A = Principal(name="ann", role="admin", tenant="a")
OPERATOR = Principal(name="operator", role="admin", tenant=None)


def ring() -> TokenRing:
    return TokenRing({"tok-alice": READER_A, hashed_form("tok-ann"): ADMIN_A, "tok-op": OPERATOR})


def test_plain_and_hashed_tokens_authenticate() -> None:
    r = ring()
    assert len(r) == 3
    assert r.authenticate("tok-alice") == READER_A
    assert r.authenticate("tok-ann") == ADMIN_A
    assert r.authenticate("tok-op") == OPERATOR


@pytest.mark.parametrize("presented", [None, "", "tok-alicex", "demo-key-contoso", "sha256:" + "0" * 64])
def test_missing_or_unknown_token_is_unauthorized(presented: str | None) -> None:
    with pytest.raises(UnauthorizedError):
        ring().authenticate(presented)


def test_a_token_configured_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="hash alike"):
        TokenRing({"t": READER_A, hashed_form("t"): ADMIN_A})


def test_analyst_token_is_bound_to_its_tenant() -> None:
    assert authorize(READER_A, None, "reader", {"a", "b"}) == "a"
    assert authorize(READER_A, "a", "reader", {"a", "b"}) == "a"
    with pytest.raises(ForbiddenError, match="tenant 'a' only"):
        authorize(READER_A, "b", "reader", {"a", "b"})


def test_reader_may_not_act_as_admin() -> None:
    with pytest.raises(ForbiddenError, match="needs 'admin'"):
        authorize(READER_A, "a", "admin", {"a"})
    assert authorize(ADMIN_A, "a", "admin", {"a"}) == "a"


def test_operator_names_any_configured_tenant_one_at_a_time() -> None:
    assert authorize(OPERATOR, "b", "admin", {"a", "b"}) == "b"
    assert authorize(OPERATOR, None, "reader", {"a"}) == "a"
    with pytest.raises(ForbiddenError, match="name one"):
        authorize(OPERATOR, None, "reader", {"a", "b"})
    with pytest.raises(ForbiddenError, match="unknown tenant"):
        authorize(OPERATOR, "c", "reader", {"a", "b"})


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer ", None), (None, None)],
)
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


def test_operator_token_is_written_once_private_and_joins_the_ring(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, analyst_tokens={"tok-alice": AnalystToken(name="alice", tenant="contoso")}
    )
    assert cli_token(settings) is None
    token = ensure_operator_token(tmp_path)
    assert len(token) >= 40
    assert ensure_operator_token(tmp_path) == token
    assert stat.S_IMODE((tmp_path / "operator-token").stat().st_mode) == 0o600
    ring = token_ring(settings)
    assert ring.authenticate(token) == Principal(name="operator", role="admin", tenant=None)
    assert ring.authenticate("tok-alice") == Principal(name="alice", role="reader", tenant="contoso")
    assert cli_token(settings) == token
    assert cli_token(load_settings(data_dir=tmp_path, token="tok-alice")) == "tok-alice"
