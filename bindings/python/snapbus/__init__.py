"""snapbus: snapshot/restore lifecycle hooks for every Python process of a Lambda function.

    import snapbus

    @snapbus.after_restore
    def reconnect():
        pool.reset()

    @snapbus.before_snapshot(name="close-pool")
    def close_pool():
        pool.close()

    if snapbus.generation() != seen:      # the hot path: one read of a mapped word
        ...

Hooks run on a watcher thread that starts on the first registration (SNAPBUS_AUTOSTART=0 turns
that off; then call start()). Before-snapshot and shutdown hooks run last-registered first,
after-restore hooks first-registered first; order=N sorts before that, as in the C++ client
(lower orders are restored first and snapshotted last). Every hook runs even when another
raised, and the publisher is told about each failure. Without a publisher (a local run, unit tests) nothing
fails: generation() is 0 and hooks never fire. See bindings/python/README.md.
"""
import logging as _logging
import os as _os
import sys as _sys


def _startup_dir() -> str:
    """The directory to put first on PYTHONPATH for zero-code mode: its sitecustomize starts snapbus."""
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "_startup")


def _imported_by_runpy() -> bool:
    """Whether runpy imports this package, to run its __main__. Not when zero-code mode's
    sitecustomize or .pth imports it while site starts the interpreter (PYTHONPATH=$(python3 -m
    snapbus startup-dir) with SNAPBUS_ZERO_CODE=1 already exported): an exit there is a fatal error."""
    frame = _sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "runpy":
            return True
        frame = frame.f_back
    return False


# `python3 -m snapbus startup-dir` only prints that directory, often for a wrapper whose interpreter
# has no cffi. runpy imports this package before it runs __main__, so the answer is given here,
# before the native module is loaded or the segment looked at. (A package site has imported
# already is not imported again: __main__ answers then.)
if _sys.orig_argv[-3:] == ["-m", "snapbus", "startup-dir"] and _imported_by_runpy():
    print(_startup_dir())
    raise SystemExit(0)

from . import _config
from ._errors import (Busy, Closed, InternalError, Interrupted, InvalidArgument, InvalidSegment, NoFreeSlot,
                      NotStarted, PermissionDenied, SegmentNotFound, SnapbusError, SystemCallError, Timeout,
                      VersionMismatch)
from ._hot import generation
from ._state import InitType, Phase, Source, State
from ._checked import Subscriber, abi_version, default_segment_path
from ._hooks import Hook as _Hook, check_hook as _check_hook, check_order as _check_order, hook_name as _hook_name
# The bridge first: its fork handler must run in a child before the client's starts a watcher there.
from . import _bridge
from ._client import CLIENT as _CLIENT

__all__ = [
    "generation", "state", "check", "check_async", "before_snapshot", "after_restore", "on_shutdown",
    "start", "stop", "is_running", "wait_for_change", "wait_for_change_async", "segment_path",
    "State", "Phase", "InitType", "Source", "Subscriber", "abi_version", "default_segment_path",
    "SnapbusError", "SegmentNotFound", "PermissionDenied", "InvalidSegment", "VersionMismatch", "Busy",
    "NoFreeSlot", "Timeout", "InvalidArgument", "SystemCallError", "Interrupted", "Closed", "InternalError",
    "NotStarted",
]

_log = _logging.getLogger("snapbus")


def _setting(read, default, why_default: str):
    # A malformed variable must not make `import snapbus` fail (every worker of the app would): it
    # is named where a default logger shows it (stderr), and the default holds.
    try:
        return read()
    except InvalidArgument as error:
        _log.error("snapbus: %s; %s", error, why_default)
        return default


_log_level = _setting(_config.log_level, None, "the snapbus logger keeps the application's logging setup")
if _log_level is not None:
    _handler = _logging.StreamHandler()
    _handler.setFormatter(_logging.Formatter("%(asctime)s %(name)s %(levelname)s [%(process)d] %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(_log_level)

if _setting(lambda: _config.flag(_config.ENV_PYTHON_BRIDGE, _config.DEFAULT_PYTHON_BRIDGE),
            _config.DEFAULT_PYTHON_BRIDGE, "the snapshot_restore_py bridge stays on (its default)"):
    _bridge.install(_CLIENT)
    # As snapbus's own decorators do: a snapshot_restore_py.register_* call starts the watcher, or
    # the hooks it registers would wait for a start() nobody calls.
    _bridge.start_on_first_registration(_CLIENT.autostart)


def state() -> State:
    """A consistent snapshot of the lifecycle state (phase, generation, restore id, times, init
    type) as an immutable State; State.detached() values when there is no segment."""
    return _CLIENT.state()


def check() -> None:
    """The inline guard: if the generation moved and this process's after-restore hooks have not
    run for it, run them now (or wait for the watcher thread that is running them). On the normal
    path this costs one generation comparison."""
    if generation() != _CLIENT.handled_generation:
        _CLIENT.guard_catch_up()


async def check_async() -> None:
    """check() for coroutines: awaits the hooks without blocking the event loop."""
    await _CLIENT.check_async()


def _register(hook_list, func, name, order):
    if func is None:
        return lambda f: _register(hook_list, f, name, order)
    _check_hook(func)
    hook_list.add(_Hook(_hook_name(func, name), func, _check_order(order)))
    _CLIENT.autostart()
    return func


def before_snapshot(func=None, /, *, name: str | None = None, order: int = 0):
    """Registers func() to run before the snapshot is taken, last-registered first.

    Use as @before_snapshot, @before_snapshot(name="...", order=...), or before_snapshot(func, ...).
    name (default: module.qualname) appears in the publisher's error report. order (default 0)
    sorts before registration: before a snapshot, higher orders run first. Returns func.
    """
    return _register(_CLIENT.before_snapshot, func, name, order)


def after_restore(func=None, /, *, name: str | None = None, order: int = 0):
    """Registers func() to run after each restore, first-registered first, once per process.

    Use as @after_restore, @after_restore(name="...", order=...), or after_restore(func, ...).
    order (default 0) sorts before registration: after a restore, lower orders run first.
    Returns func.
    """
    return _register(_CLIENT.after_restore, func, name, order)


def on_shutdown(func=None, /, *, name: str | None = None, order: int = 0):
    """Registers func() to run when the environment shuts down (best effort, last-registered
    first; higher orders first). Same forms as before_snapshot. Returns func."""
    return _register(_CLIENT.shutdown, func, name, order)


def start(segment=None, *, name: str | None = None, wait_for_ack: bool | None = None) -> None:
    """Attaches to the segment and starts the watcher thread.

    segment: path (default SNAPBUS_SEGMENT, else /tmp/snapbus.seg). name: the slot name shown by
    `snapbus status` (default SNAPBUS_NAME, else python:<script>). wait_for_ack: whether the
    publisher waits for this process (default SNAPBUS_WAIT_FOR_ACK, on).
    With the watcher running (a hook registration started it), a call with no argument or the same
    ones does nothing; one that asks for another segment, name or wait_for_ack stops the watcher
    and starts it again with them (raising Timeout if a hook keeps it busy for 5 s, and
    InvalidArgument from inside a hook, which cannot stop the thread it runs on).
    A missing segment is not an error: the watcher attaches when it appears. Raises
    PermissionDenied, InvalidSegment, VersionMismatch, NoFreeSlot, ... for an unusable one, and
    InvalidArgument for a malformed SNAPBUS_WAIT_FOR_ACK.
    """
    _CLIENT.start(segment, name, wait_for_ack)


def stop(timeout: float = 5.0) -> bool:
    """Stops the watcher thread and frees this process's slot. Returns False if the watcher did
    not stop within timeout seconds (a hook still running)."""
    return _CLIENT.stop(timeout)


def is_running() -> bool:
    """Whether the watcher thread is running in this process."""
    return _CLIENT.running


def segment_path() -> str:
    """The segment path this process uses."""
    return _CLIENT.segment_path()


def wait_for_change(timeout: float | None = None) -> State | None:
    """Blocks until this process has handled a new state (hooks run, ack sent) and returns it;
    None if timeout seconds passed. Raises NotStarted if the watcher is not running, and
    InvalidArgument when called by a hook (the change it waits for is the one its thread is
    handling). From the first call on, the watcher wakes for every change, quiet phases (running,
    ...) included."""
    return _CLIENT.wait_for_change(timeout)


async def wait_for_change_async(timeout: float | None = None) -> State | None:
    """wait_for_change() for asyncio: no thread is blocked while waiting."""
    return await _CLIENT.wait_for_change_async(timeout)


def _start_zero_code() -> None:
    """Zero-code mode (the startup sitecustomize): the bridge now, the watcher at the process's first
    snapshot_restore_py registration (snapbus's own decorators start it too), never raising."""
    _bridge.install(_CLIENT)
    _bridge.start_on_first_registration(_CLIENT.autostart)
