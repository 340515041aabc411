"""The agent's state file: private, atomic, and never echoed into messages."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hostwatch.agent.state import (
    AgentState,
    StateError,
    load_state,
    prepare_data_dir,
    save_state,
)

CREDENTIAL = "hwd_dev1_very-secret-credential"


def _state() -> AgentState:
    return AgentState(
        device_id="dev-1",
        credential=CREDENTIAL,
        server_url="http://127.0.0.1:8000",
        enrolled_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_save_state_writes_a_private_file_in_a_private_dir(tmp_path: Path) -> None:
    data_dir = prepare_data_dir(tmp_path / "var" / "agent")

    path = save_state(data_dir, _state())

    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["state.json"]


def test_load_state_returns_what_was_saved(tmp_path: Path) -> None:
    data_dir = prepare_data_dir(tmp_path / "agent")
    save_state(data_dir, _state())

    loaded = load_state(data_dir)

    assert loaded == _state()


def test_load_state_without_a_file_is_none(tmp_path: Path) -> None:
    assert load_state(prepare_data_dir(tmp_path / "agent")) is None


def test_load_state_of_a_damaged_file_does_not_quote_it(tmp_path: Path) -> None:
    data_dir = prepare_data_dir(tmp_path / "agent")
    (data_dir / "state.json").write_text('{"credential": "' + CREDENTIAL + '"}')

    with pytest.raises(StateError) as caught:
        load_state(data_dir)

    assert CREDENTIAL not in str(caught.value)
    assert "damaged (KeyError)" in str(caught.value)


def test_load_state_closes_a_state_file_left_open_to_others(tmp_path: Path) -> None:
    data_dir = prepare_data_dir(tmp_path / "agent")
    path = save_state(data_dir, _state())
    path.chmod(0o644)

    load_state(data_dir)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_agent_state_repr_hides_the_credential() -> None:
    assert CREDENTIAL not in repr(_state())
