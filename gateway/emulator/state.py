"""Emulator: the fault and behaviour tables per model id, and the call log (thread-safe)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

ERROR_MODES = frozenset(
    {
        "throttle",
        "unavailable",
        "internal",
        "not_ready",
        "model_error",
        "timeout",
        "access_denied",
        "validation",
    }
)
STREAM_MODES = frozenset({"stream_throttle", "break_stream", "drop_stream", "truncate_frame"})
#: ``reset`` aborts the connection after the body was read and the call counted.
#: ``wrong_shape`` answers 200 with a JSON body that is not what Bedrock documents (Converse,
#: InvokeModel; a stream is not affected).
FAULT_MODES = ERROR_MODES | STREAM_MODES | {"hang", "slow", "reset", "wrong_shape"}
HANG_DEFAULT_MS = 3_600_000
OPERATIONS = ("converse", "converse-stream", "invoke")
CALL_LOG_SIZE = 1000
ANY_MODEL = "*"


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault rule; `remaining` None means until cleared."""

    mode: str
    remaining: int | None = None
    delay_ms: int = 0
    after_chunks: int = 1
    chunk_delay_ms: int = 0


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Overrides of the deterministic answer for one model."""

    reply: str | None = None
    tool_arguments: dict[str, Any] | None = None
    chunks: int | None = None
    latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    operation: str
    model_id: str
    status: int
    ts: float
    #: A Converse call's ``additionalModelRequestFields``, so tests see what was passed through.
    additional_fields: dict[str, Any] | None = None


def _applies(fault: Fault, operation: str) -> bool:
    if fault.mode == "wrong_shape":
        return operation != "converse-stream"
    return fault.mode not in STREAM_MODES or operation == "converse-stream"


class EmulatorState:
    """Fault table, behaviour table and call log; safe to mutate from another thread."""

    def __init__(self, *, strict: bool = False) -> None:
        self._lock = threading.Lock()
        #: Strict mode: refuse per model and region as Bedrock does (see rules.py).
        self.strict = strict
        self._denied: set[str] = set()
        self._faults: dict[str, Fault] = {}
        self._behaviours: dict[str, Behaviour] = {}
        self._calls: deque[CallRecord] = deque(maxlen=CALL_LOG_SIZE)
        self._counts: dict[str, dict[str, int]] = {}

    # Faults -----------------------------------------------------------------
    def set_fault(
        self,
        model_id: str,
        mode: str,
        *,
        times: int | None = None,
        delay_ms: int | None = None,
        after_chunks: int = 1,
        chunk_delay_ms: int = 0,
    ) -> None:
        """Install a fault for `model_id` (`*` = every model); `times` None = until cleared."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {sorted(FAULT_MODES)}")
        if times is not None and times < 1:
            raise ValueError("times must be a positive integer or None")
        if delay_ms is None:
            delay_ms = HANG_DEFAULT_MS if mode == "hang" else 0
        if min(delay_ms, after_chunks, chunk_delay_ms) < 0:
            raise ValueError("delay_ms, after_chunks and chunk_delay_ms must be >= 0")
        fault = Fault(mode, times, delay_ms, after_chunks, chunk_delay_ms)
        with self._lock:
            self._faults[model_id] = fault

    def clear_faults(self, model_id: str | None = None) -> None:
        with self._lock:
            if model_id is None:
                self._faults.clear()
            else:
                self._faults.pop(model_id, None)

    def faults(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {key: asdict(fault) for key, fault in self._faults.items()}

    def take_fault(self, model_ids: Iterable[str], operation: str) -> Fault | None:
        """The fault that applies to this call (first of the ids, then `*`), consuming one use."""
        with self._lock:
            if not self._faults:
                return None
            for key in (*model_ids, ANY_MODEL):
                fault = self._faults.get(key)
                if fault is None or not _applies(fault, operation):
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 1:
                        del self._faults[key]
                    else:
                        self._faults[key] = replace(fault, remaining=fault.remaining - 1)
                return fault
            return None

    # Model access -----------------------------------------------------------
    def set_access(self, base_id: str, granted: bool) -> None:
        """Grant or deny the account access to a base model (and all its profiles)."""
        with self._lock:
            if granted:
                self._denied.discard(base_id)
            else:
                self._denied.add(base_id)

    def denied(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._denied)

    def reset_access(self) -> None:
        with self._lock:
            self._denied.clear()

    # Behaviour --------------------------------------------------------------
    def set_behaviour(
        self,
        model_id: str,
        *,
        reply: str | None = None,
        tool_arguments: dict[str, Any] | None = None,
        chunks: int | None = None,
        latency_ms: int | None = None,
    ) -> None:
        """Override the deterministic answer for `model_id` (`*` = every model)."""
        if chunks is not None and chunks < 1:
            raise ValueError("chunks must be >= 1")
        if latency_ms is not None and latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        behaviour = Behaviour(reply, tool_arguments, chunks, latency_ms)
        with self._lock:
            self._behaviours[model_id] = behaviour

    def clear_behaviour(self, model_id: str | None = None) -> None:
        with self._lock:
            if model_id is None:
                self._behaviours.clear()
            else:
                self._behaviours.pop(model_id, None)

    def behaviour(self, model_ids: Iterable[str]) -> Behaviour | None:
        with self._lock:
            if not self._behaviours:
                return None
            for key in (*model_ids, ANY_MODEL):
                found = self._behaviours.get(key)
                if found is not None:
                    return found
            return None

    # Calls ------------------------------------------------------------------
    def count_call(self, operation: str, model_id: str) -> None:
        """Count a call that reached an operation (done on arrival, before any fault)."""
        with self._lock:
            per_model = self._counts.get(model_id)
            if per_model is None:
                per_model = self._counts[model_id] = dict.fromkeys(OPERATIONS, 0)
            per_model[operation] = per_model.get(operation, 0) + 1

    def log_call(
        self,
        operation: str,
        model_id: str,
        status: int,
        additional_fields: dict[str, Any] | None = None,
    ) -> None:
        """Append a finished call to the log (the last 1000 are kept)."""
        record = CallRecord(operation, model_id, status, time.time(), additional_fields)
        with self._lock:
            self._calls.append(record)

    def counts(self) -> dict[str, dict[str, int]]:
        """Calls per model id and operation since the last reset."""
        with self._lock:
            return {model: dict(ops) for model, ops in self._counts.items()}

    def calls(self) -> list[dict[str, Any]]:
        """The last calls (at most 1000), oldest first."""
        with self._lock:
            return [asdict(record) for record in self._calls]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._counts.clear()
