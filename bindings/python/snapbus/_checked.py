"""The thin checked layer: snapbus._native's calls, with every nonzero status raised as the
matching SnapbusError and C values turned into Python ones. No policy lives here.

    sub = Subscriber.open("/tmp/app.seg", "worker", wait_for_ack=True)
    state = sub.read_state()
    new_seq = sub.wait(state.seq, timeout_ms=1000)   # None on timeout
    sub.ack(state.seq, state.generation, ok=True, hooks_run=2, hooks_failed=0, message="")
    sub.close()
"""
import os

from ._errors import InvalidArgument, SnapbusError, Timeout, Interrupted, error_for_status
from ._native import ffi, lib
from ._state import State

_ACK_OK = lib.SNAPBUS_ACK_OK
_ACK_FAILED = lib.SNAPBUS_ACK_FAILED


def _error(status: int, context: str) -> SnapbusError:
    # The library's message already says what it was doing; context is for when it has none.
    message = ffi.string(lib.snapbus_last_error_message()).decode("utf-8", "replace")
    return error_for_status(status, message or context, lib.snapbus_last_error_errno())


def _check(status: int, context: str) -> None:
    if status != lib.SNAPBUS_OK:
        raise _error(status, context)


def segment_path_text(path) -> str:
    """A segment path given as str, bytes or os.PathLike, as text (undecodable bytes kept by
    surrogate escapes, as os.fsdecode keeps them). Raises TypeError for anything else and
    InvalidArgument for an empty path or one with a NUL byte, which C would silently cut short."""
    try:
        text = os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(f"a segment path is str, bytes or os.PathLike, not {type(path).__name__}") from None
    if not text or "\0" in text:
        raise InvalidArgument(f"a segment path must be non-empty and free of NUL bytes: {text!r}")
    return text


def _integer(value, what: str, *, bits: int, signed: bool = False) -> int:
    """An integer argument checked against the C type it becomes: out of range, cffi would raise
    OverflowError, which is outside the SnapbusError family and names no argument."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} is an int, not {type(value).__name__}")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise InvalidArgument(f"{what} must be from {low} to {high}, not {value}")
    return value


def _timeout_ms(value) -> int:
    return _integer(value, "timeout_ms", bits=64, signed=True)


def _path_arg(path):
    return ffi.NULL if path is None else os.fsencode(segment_path_text(path))


def _name_arg(name):
    # A slot name is display text: anything undecodable (a non-UTF-8 script name) is escaped, never fatal.
    return ffi.NULL if not name else name.encode("utf-8", "backslashreplace").replace(b"\0", b"\\0")


def abi_version() -> int:
    """SNAPBUS_ABI_VERSION of the linked library."""
    return lib.snapbus_abi_version()


def default_segment_path() -> str:
    """The path this process would use: SNAPBUS_SEGMENT, else the bus default."""
    buf = ffi.new("char[]", 4096)
    _check(lib.snapbus_default_segment_path(buf, len(buf)), "default segment path")
    return os.fsdecode(ffi.string(buf))


def first_look(path=None) -> None:
    """Takes this process's first look at path (None: the default), once per path for the
    process's life: which restores a late attach must still catch up on depends on it."""
    _check(lib.snapbus_first_look(_path_arg(path)), f"look at segment {path or default_segment_path()}")


def read_segment_state(path=None) -> State:
    """The state of the segment at path (None: the default), read once, read-only, as `snapbus
    status` reads it: no slot is claimed, so it answers with every slot taken."""
    out = ffi.new("snapbus_state *")
    _check(lib.snapbus_read_segment_state(_path_arg(path), out), f"read segment {path or default_segment_path()}")
    return State.from_c(out)


def wait_for_segment(path=None, timeout_ms: int = -1) -> bool:
    """Blocks until a file exists at path (None: the default); False if timeout_ms passed."""
    status = lib.snapbus_wait_for_segment(_path_arg(path), _timeout_ms(timeout_ms))
    if status == lib.SNAPBUS_ERR_TIMED_OUT:
        return False
    _check(status, f"wait for segment {path or default_segment_path()}")
    return True


class Subscriber:
    """One mapped segment and this process's slot in it. Not thread-safe to close while in use:
    the owner (the client) guarantees close() runs after every other call has returned."""

    __slots__ = ("_handle", "path")

    def __init__(self, handle, path: str):
        self._handle = handle
        self.path = path

    @classmethod
    def open(cls, path=None, name: str | None = None, wait_for_ack: bool = True,
             handled: tuple[int, int, int, int] | None = None) -> "Subscriber":
        """Maps the segment at path (None: the default path) and claims a slot named name.
        handled: (device, inode, created_wall_ns, generation) this process handled last, or None."""
        out = ffi.new("snapbus_subscriber **")
        resolved = segment_path_text(path) if path is not None else default_segment_path()
        name_arg = _name_arg(name)
        handled_arg = ffi.NULL
        if handled is not None:
            device, inode, created_wall_ns, generation = handled
            handled_arg = ffi.new("snapbus_handled *", {
                "device": _integer(device, "handled device", bits=64),
                "inode": _integer(inode, "handled inode", bits=64),
                "created_wall_ns": _integer(created_wall_ns, "handled created_wall_ns", bits=64),
                "generation": _integer(generation, "handled generation", bits=64)})
        _check(lib.snapbus_subscriber_open_after(os.fsencode(resolved), name_arg, 1 if wait_for_ack else 0,
                                                 handled_arg, out),
               f"open segment {resolved}")
        return cls(out[0], resolved)

    def baseline(self) -> tuple[int, int, int, int]:
        """(device, inode, created_wall_ns, generation): this segment, and the generation whose
        after-restore hooks count as run in this process."""
        out = ffi.new("snapbus_handled *")
        _check(lib.snapbus_subscriber_baseline(self._live(), out), f"read the baseline of {self.path}")
        return (out.device, out.inode, out.created_wall_ns, out.generation)

    def lost_reason(self) -> str | None:
        """Why the segment is no longer the one at its path (deleted, replaced, truncated), or None."""
        reason = lib.snapbus_subscriber_lost_reason(self._live())
        return None if reason == ffi.NULL else ffi.string(reason).decode("utf-8", "replace")

    def notice(self) -> str:
        """What the last ack did on its own (a slot claimed again), "" if nothing."""
        return ffi.string(lib.snapbus_subscriber_notice(self._live())).decode("utf-8", "replace")

    def _live(self):
        if self._handle is None:
            raise error_for_status(lib.SNAPBUS_ERR_CLOSED, f"subscriber of {self.path} is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Frees the slot and unmaps the segment. Idempotent."""
        handle, self._handle = self._handle, None
        if handle is not None:
            lib.snapbus_subscriber_close(handle)

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def generation_buffer(self):
        """A cffi buffer over the mapped 8-byte generation word, valid until close()."""
        address = lib.snapbus_subscriber_generation_address(self._live())
        return ffi.buffer(ffi.cast("char *", address), 8)

    def generation(self) -> int:
        """The generation through one library call (the hot path uses generation_buffer)."""
        return lib.snapbus_subscriber_generation(self._live())

    def read_state(self) -> State:
        out = ffi.new("snapbus_state *")
        _check(lib.snapbus_subscriber_read_state(self._live(), out), f"read state of {self.path}")
        return State.from_c(out)

    def joined_state(self) -> State:
        """The state the slot was claimed at: the baseline, so no change is lost after open()."""
        out = ffi.new("snapbus_state *")
        _check(lib.snapbus_subscriber_joined_state(self._live(), out), f"read joined state of {self.path}")
        return State.from_c(out)

    def wait(self, seen_seq: int, timeout_ms: int, *, hook_phases_only: bool = False) -> int | None:
        """Sleeps while seq == seen_seq; the new seq, or None on timeout or wake-up. A negative
        timeout_ms waits without a time limit. With hook_phases_only a change to a quiet phase
        (running, ...) does not end the wait."""
        current = ffi.new("uint32_t *")
        wake_on = lib.SNAPBUS_WAKE_ON_HOOK_PHASES if hook_phases_only else lib.SNAPBUS_WAKE_ON_EVERY_CHANGE
        status = lib.snapbus_subscriber_wait_for(self._live(), _integer(seen_seq, "seen_seq", bits=32),
                                                 _timeout_ms(timeout_ms), wake_on, current)
        if status == lib.SNAPBUS_OK:
            return current[0]
        error = _error(status, f"wait on {self.path}")
        if isinstance(error, (Timeout, Interrupted)):
            return None
        raise error

    def wake(self) -> None:
        """Wakes every waiter on this segment's seq (used to stop a watcher thread)."""
        _check(lib.snapbus_subscriber_wake(self._live()), f"wake waiters of {self.path}")

    def ack(self, seq: int, handled_generation: int, *, ok: bool, hooks_run: int, hooks_failed: int,
            message: str) -> None:
        """Acknowledges seq in this process's slot (the library truncates message to fit)."""
        _check(lib.snapbus_subscriber_ack(self._live(), _integer(seq, "seq", bits=32),
                                          _integer(handled_generation, "handled_generation", bits=64),
                                          _ACK_OK if ok else _ACK_FAILED, _integer(hooks_run, "hooks_run", bits=32),
                                          _integer(hooks_failed, "hooks_failed", bits=32),
                                          message.encode("utf-8", "replace")),
               f"acknowledge seq {seq} on {self.path}")

    def note_running_hook(self, phase: str, hook: str) -> None:
        """Records in this process's slot which hook runs now (the next ack replaces it)."""
        _check(lib.snapbus_subscriber_note_running_hook(self._live(), phase.encode("utf-8", "replace"),
                                                        hook.encode("utf-8", "replace")),
               f"note the running hook on {self.path}")

    def after_fork_child(self) -> None:
        """In a forked child: claims a fresh slot for it (the parent keeps its own)."""
        _check(lib.snapbus_subscriber_after_fork_child(self._live()), f"claim a slot after fork on {self.path}")

    def after_fork_child_within_change(self, seq: int, handled_generation: int) -> None:
        """In a child forked by the hooks of the change at seq: claims a slot born acknowledging it."""
        _check(lib.snapbus_subscriber_after_fork_child_within_change(self._live(), seq, handled_generation),
               f"claim a slot after fork on {self.path}")

    def publisher_alive(self) -> bool:
        alive = ffi.new("int *")
        _check(lib.snapbus_subscriber_publisher_alive(self._live(), alive), f"check publisher of {self.path}")
        return bool(alive[0])
