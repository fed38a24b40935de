"""Emulator: the fault table (times, wildcard, stream-only modes), behaviours and call log."""

from __future__ import annotations

import pytest

from gateway.emulator.state import CALL_LOG_SIZE, HANG_DEFAULT_MS, EmulatorState

MODEL = "meta.llama3-8b-instruct-v1:0"


def test_times_counts_down() -> None:
    state = EmulatorState()
    state.set_fault(MODEL, "throttle", times=2)
    taken = [state.take_fault([MODEL], "converse") for _ in range(3)]
    assert [fault.mode if fault else None for fault in taken] == ["throttle", "throttle", None]


def test_until_cleared_and_wildcard() -> None:
    state = EmulatorState()
    state.set_fault("*", "internal")
    for _ in range(3):
        fault = state.take_fault(["other.model"], "invoke")
        assert fault is not None and fault.mode == "internal"
    state.clear_faults("*")
    assert state.take_fault(["other.model"], "invoke") is None


def test_specific_fault_wins_over_wildcard() -> None:
    state = EmulatorState()
    state.set_fault("*", "internal")
    state.set_fault(MODEL, "timeout")
    fault = state.take_fault(["us." + MODEL, MODEL], "converse")
    assert fault is not None and fault.mode == "timeout"


def test_stream_modes_skip_other_operations() -> None:
    state = EmulatorState()
    state.set_fault(MODEL, "break_stream", times=1)
    assert state.take_fault([MODEL], "converse") is None
    assert state.take_fault([MODEL], "converse-stream") is not None
    assert state.faults() == {}


def test_hang_default_delay() -> None:
    state = EmulatorState()
    state.set_fault(MODEL, "hang")
    assert state.faults()[MODEL]["delay_ms"] == HANG_DEFAULT_MS


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "explode"}, {"mode": "throttle", "times": 0}, {"mode": "slow", "delay_ms": -1}],
)
def test_invalid_fault(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EmulatorState().set_fault(MODEL, **kwargs)  # type: ignore[arg-type]


def test_behaviour_lookup() -> None:
    state = EmulatorState()
    state.set_behaviour("*", reply="any")
    state.set_behaviour(MODEL, reply="mine")
    assert state.behaviour([MODEL]) is not None
    assert state.behaviour([MODEL]).reply == "mine"  # type: ignore[union-attr]
    assert state.behaviour(["x"]).reply == "any"  # type: ignore[union-attr]
    state.clear_behaviour()
    assert state.behaviour([MODEL]) is None


def test_call_log_is_bounded() -> None:
    state = EmulatorState()
    for _ in range(CALL_LOG_SIZE + 5):
        state.count_call("converse", MODEL)
        state.log_call("converse", MODEL, 200)
    assert len(state.calls()) == CALL_LOG_SIZE
    assert state.counts() == {
        MODEL: {"converse": CALL_LOG_SIZE + 5, "converse-stream": 0, "invoke": 0}
    }
    state.reset_calls()
    assert (state.calls(), state.counts()) == ([], {})
