"""The lifecycle state as Python sees it: small immutable values, copied under the seqlock."""
import enum
from dataclasses import dataclass


class Phase(enum.IntEnum):
    """Lifecycle phase (lifecycle.capnp Phase)."""

    STARTING = 0
    BEFORE_SNAPSHOT = 1
    SNAPSHOT_READY = 2
    AFTER_RESTORE = 3
    RUNNING = 4
    SHUTTING_DOWN = 5


class InitType(enum.IntEnum):
    """How Lambda initialised the environment (lifecycle.capnp InitType)."""

    UNKNOWN = 0
    ON_DEMAND = 1
    PROVISIONED_CONCURRENCY = 2
    SNAP_START = 3
    LAMBDA_MANAGED_INSTANCES = 4


class Source(enum.IntEnum):
    """Who caused the last transition (lifecycle.capnp TransitionSource)."""

    NONE = 0
    MANUAL = 1
    RUNTIME_API = 2
    RUNTIME_API_PROXY = 3


def _enum_or_int(enum_type, value: int):
    # A newer publisher may send values this package does not know: pass them through as ints.
    try:
        return enum_type(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class State:
    """One consistent copy of the lifecycle state.

    attached       False when this process has no segment (no publisher): every field is zero.
    seq            the state's version; changes on every transition.
    phase          Phase (an int if the publisher is newer than this package).
    generation     restores this memory image has been through (0 without SnapStart).
    restore_id     32 hex digits, drawn fresh after each restore ("0"*32 before the first).
    init_type      InitType of the environment.
    source         Source of the last transition.
    *_wall_ns      CLOCK_REALTIME nanoseconds; *_mono_ns CLOCK_MONOTONIC nanoseconds; 0 if never.
    publisher_pid  the publisher's pid (0 when detached).
    """

    attached: bool
    seq: int
    phase: Phase | int
    generation: int
    restore_id: str
    init_type: InitType | int
    source: Source | int
    snapshot_wall_ns: int
    snapshot_mono_ns: int
    restore_wall_ns: int
    restore_mono_ns: int
    changed_wall_ns: int
    publisher_pid: int

    @classmethod
    def detached(cls) -> "State":
        """The state of a process without a segment."""
        return cls(False, 0, Phase.STARTING, 0, "0" * 32, InitType.UNKNOWN, Source.NONE, 0, 0, 0, 0, 0, 0)

    @classmethod
    def from_c(cls, c_state) -> "State":
        """Copies a snapbus_state struct (already read consistently by the library)."""
        return cls(
            attached=True,
            seq=c_state.seq,
            phase=_enum_or_int(Phase, c_state.phase),
            generation=c_state.generation,
            restore_id=f"{c_state.restore_id_high:016x}{c_state.restore_id_low:016x}",
            init_type=_enum_or_int(InitType, c_state.init_type),
            source=_enum_or_int(Source, c_state.source),
            snapshot_wall_ns=c_state.snapshot_wall_ns,
            snapshot_mono_ns=c_state.snapshot_mono_ns,
            restore_wall_ns=c_state.restore_wall_ns,
            restore_mono_ns=c_state.restore_mono_ns,
            changed_wall_ns=c_state.changed_wall_ns,
            publisher_pid=c_state.publisher_pid,
        )
