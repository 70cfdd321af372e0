"""The per-process client: the decision procedure of docs/client-semantics.md, the watcher
thread, fork handling, and the waits built on them.

One _Client per process (``CLIENT``). Everything that runs hooks or acknowledges does so under
``_lock``, so a hook runs exactly once per process per phase change, whether the watcher thread
or a request guard noticed first.
"""
from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import select
import sys
import threading
import time
from typing import TYPE_CHECKING

from . import _config, _hot
from ._checked import Subscriber, default_segment_path, first_look, segment_path_text, wait_for_segment
from ._errors import InvalidArgument, InvalidSegment, NotStarted, SegmentNotFound, SnapbusError, Timeout
from ._hooks import AFTER_RESTORE, BEFORE_SNAPSHOT, SHUTDOWN, HookList, RunReport
from ._state import Phase, State

# asyncio is imported by the coroutines that use it, which run in an event loop that has imported it
# already: at the top it took 40% of `import snapbus`, which zero-code mode makes every Python process
# of the function pay, a WSGI server's too.
if TYPE_CHECKING:
    import asyncio

log = logging.getLogger("snapbus")

# How long one blocking wait may last before the watcher looks at its stop flag again. stop()
# also wakes it, so this only bounds the cost of a lost wake-up.
_WAIT_SLICE_MS = 1000
# How long _want_every_change keeps waking the watcher, and how often.
_ARM_SECONDS = 1.0
_ARM_POKE_SECONDS = 0.002
# After an error the watcher retries this often; a segment removed just as it appeared, sooner.
_RETRY_SECONDS = 1.0
_ATTACH_RETRY_SECONDS = 0.1
_STOP_JOIN_SECONDS = 5.0
# At exit, how long in all the shutdown hooks and stop() wait for a hook running on another thread.
_EXIT_WAIT_SECONDS = 1.0
# How long a fork on a thread other than the hooks' waits for the hooks of a change in progress
# before its child takes that change as handled: such a thread may be what the hooks wait for (a
# multiprocessing pool's worker handler, which forks the workers a hook maps its work on).
_FORK_WAIT_SECONDS = 1.0
# How long a change's acknowledgement waits for the children its hooks forked to claim their slots
# (a few ms each): acknowledged before they have, before-snapshot would let the snapshot be taken
# with a child the publisher does not know of, and the restore would not wait for its hooks.
_CHILD_CLAIM_WAIT_SECONDS = 2.0
# The slot counts hooks in 16 bits.
_MAX_ACK_HOOKS = 0xFFFF
# How often a before-snapshot phase looks again whether this process still imports a module, and
# when it says so where a default logger shows it.
_IMPORT_POLL_SECONDS = 0.005
_IMPORT_WARN_SECONDS = 5.0
# Where the import system's _find_and_load lives: CPython's importlib._bootstrap is frozen.
_IMPORT_SYSTEM_FILE = "<frozen importlib._bootstrap>"


class _Client:
    def __init__(self) -> None:
        self.before_snapshot = HookList(BEFORE_SNAPSHOT, last_first=True)
        self.after_restore = HookList(AFTER_RESTORE, last_first=False)
        self.shutdown = HookList(SHUTDOWN, last_first=True)
        self._reset_locks()
        self._sub: Subscriber | None = None
        self._segment: str | None = None
        self._name: str | None = None
        self._wait_for_ack = True
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._wanted = False  # start() was called and stop() was not: restart the watcher after fork
        self._autostart_done = False
        self._last_state = State.detached()
        self._changes = 0
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        # Per event loop, the catch-up every async request guard held meanwhile awaits (check_async).
        self._async_catch_ups: dict[asyncio.AbstractEventLoop, tuple[asyncio.Future, int]] = {}
        # The watcher sleeps through quiet phases (running, ...): it runs no hook there, and after a
        # restore every worker would otherwise be woken twice, the second time just as the first
        # request comes. Once anyone calls wait_for_change it takes every change, for good; it says
        # so in _every_change_armed before each such wait.
        self._every_change_wanted = False
        self._every_change_armed = threading.Event()
        self._asleep_for_hook_phases = False  # set before the watcher reads _every_change_wanted
        self._last_watcher_error = ""
        # Per-process progress (client-semantics.md); plain ints read without the lock by guards.
        self.handled_seq = 0
        self.handled_generation = 0
        # (device, inode, created_wall_ns, generation) handled last: where handled_generation holds.
        self._handled: tuple[int, int, int, int] | None = None
        self._before_snapshot_seq = 0
        self._shutdown_done = False
        # The change whose hooks run now (set and cleared under _lock); read by the fork handlers.
        self._handling: _Handling | None = None
        # The change a fork has already waited _FORK_WAIT_SECONDS for: later forks adopt it at once.
        self._fork_waited_out: _Handling | None = None

    def _reset_locks(self) -> None:
        # RLock: a hook may call back into snapbus (state(), check()) on the thread running it.
        self._lock = threading.RLock()
        # Per forking thread, from before_fork to the fork handlers: whether it got _lock, the change
        # the child takes as handled (a fork by the hooks), and the pipe of that child's slot claim.
        self._fork_lock = threading.local()
        self._sub_lock = threading.Lock()  # held while using the subscriber outside _lock
        self._changed = threading.Condition(threading.Lock())
        self._async_catch_up_lock = threading.Lock()
        self._running_hooks = threading.local()
        for hook_list in (self.before_snapshot, self.after_restore, self.shutdown):
            hook_list.reset_lock_after_fork()

    # ---- attaching ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def segment_path(self) -> str:
        return self._segment or default_segment_path()

    def _attach(self, stop: threading.Event | None = None) -> None:
        """Opens the segment and starts from the state its slot was claimed at. Restores this
        process lived through but has not handled are due at once (client-semantics.md)."""
        sub = Subscriber.open(self._segment, self._name, self._wait_for_ack, self._handled)
        with self._lock:
            if stop is not None and stop.is_set():
                sub.close()  # stop() ran while this watcher was opening the segment
                return
            # The state the slot was claimed at: a change since then has another seq, so the
            # watcher handles and acknowledges it like any other.
            try:
                state = sub.joined_state()
                baseline = sub.baseline()
                notice = sub.notice()
            except SnapbusError:
                sub.close()
                raise
            due = baseline[3] < state.generation
            self.handled_seq = (state.seq - 1) & 0xFFFFFFFF if due else state.seq
            self.handled_generation = baseline[3]
            _hot.handled(self.handled_generation)
            self._handled = baseline
            self._before_snapshot_seq = state.seq
            self._shutdown_done = state.phase == Phase.SHUTTING_DOWN
            self._sub = sub
            _hot.attach(sub.generation_buffer())
        if notice:
            log.warning("snapbus: %s", notice)
        log.info("snapbus: attached to %s (pid %d, phase %s, generation %d%s)",
                 sub.path, os.getpid(), getattr(state.phase, "name", state.phase), state.generation,
                 f"; catching up from generation {baseline[3]}" if due else "")
        self._notify(state)

    def _detach_lost(self, sub: Subscriber, reason: str) -> None:
        """The segment was deleted, replaced or truncated: let it go; the watcher attaches to
        whatever the path names next and catches up on restores published there meanwhile."""
        with self._lock, self._sub_lock:
            if self._sub is not sub:
                return
            _hot.detach(self.handled_generation)
            self._sub = None
            sub.close()
        log.error("snapbus: %s; detached, and attaching to the segment the path names next", reason)

    def start(self, segment=None, name=None, wait_for_ack=None, *, quiet=False) -> None:
        # Checked before anything changes: a bad argument leaves the client as it was.
        if segment is not None:
            segment = segment_path_text(segment)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a snapbus subscriber name must be a str, not {type(name).__name__}")
        if wait_for_ack is not None and not isinstance(wait_for_ack, bool):
            raise TypeError(f"wait_for_ack must be True, False or None, not {type(wait_for_ack).__name__}")
        if self._asks_for_other_settings(segment, name, wait_for_ack):
            self._stop_to_restart()
        with self._lock:
            # A watcher told to stop (by a stop() that gave up on a hook) is on its way out and would
            # free the slot: this start() wants one, so a new watcher takes it over.
            if self.running and not self._stop_event.is_set():
                return
            if wait_for_ack is None:
                try:
                    wait_for_ack = _config.flag(_config.ENV_WAIT_FOR_ACK, _config.DEFAULT_WAIT_FOR_ACK)
                except InvalidArgument as error:
                    if not quiet:
                        raise
                    log.error("snapbus: %s; no hook runs in this process (pid %d)", error, os.getpid())
                    return
            if segment is not None:
                self._segment = segment
                _take_first_look(self._segment)
            self._name = name or self._name or _config.subscriber_name()
            self._wait_for_ack = wait_for_ack
            if self._sub is None:
                try:
                    self._attach()
                except SegmentNotFound as error:
                    log.debug("snapbus: %s; no publisher is running, so generation() stays 0 and no hook "
                              "fires until one creates the segment (the watcher waits for it)", error)
                except InvalidArgument as error:
                    # A malformed setting stays malformed: a watcher retrying it would only hide it.
                    if not quiet:
                        raise
                    log.error("snapbus: %s; no hook runs in this process (pid %d)", error, os.getpid())
                    return
                except SnapbusError as error:
                    if not quiet:
                        raise
                    log.warning("snapbus: cannot attach yet (%s); the watcher keeps trying", error)
            self._wanted = True
            self._spawn_watcher()

    def _asks_for_other_settings(self, segment: str | None, name: str | None, wait_for_ack: bool | None) -> bool:
        """Whether start()'s explicit arguments differ from those of the watcher (or slot) in place."""
        if not self.running and self._sub is None:
            return False
        return ((segment is not None and os.path.abspath(segment) != os.path.abspath(self.segment_path()))
                or (bool(name) and name != self._name)
                or (wait_for_ack is not None and wait_for_ack != self._wait_for_ack))

    def _stop_to_restart(self) -> None:
        """start() with other settings: the watcher in place stops first, as stop() would."""
        if getattr(self._running_hooks, "active", False):
            raise InvalidArgument(f"snapbus.start() with other settings cannot run in a hook: its thread would "
                                  f"have to stop itself; the watcher stays on {self.segment_path()}")
        log.info("snapbus: start() with other settings: stopping the watcher on %s first", self.segment_path())
        if not self.stop(_STOP_JOIN_SECONDS):
            raise Timeout(f"snapbus.start(): the watcher on {self.segment_path()} was still running a hook after "
                          f"{_STOP_JOIN_SECONDS:.0f} s; it frees its slot once that hook returns: call start() again")

    def _spawn_watcher(self) -> None:
        self._stop_event = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(self._stop_event,),
                                        name="snapbus-watcher", daemon=True)
        self._thread.start()

    def autostart(self) -> None:
        """Called on every hook registration; starts the watcher the first time unless disabled."""
        if self._autostart_done:
            return
        self._autostart_done = True
        try:
            enabled = _config.flag(_config.ENV_AUTOSTART, _config.DEFAULT_AUTOSTART)
        except InvalidArgument as error:
            # A registration never raises: the hook stays registered, for a start() called later.
            log.error("snapbus: %s; no hook runs in this process (pid %d) until snapbus.start() is called",
                      error, os.getpid())
            return
        if enabled:
            self.start(quiet=True)
        else:
            log.debug("snapbus: %s is off; call snapbus.start() to run hooks", _config.ENV_AUTOSTART)

    def stop(self, timeout: float = _STOP_JOIN_SECONDS) -> bool:
        """Stops the watcher and frees this process's slot; False if the watcher did not stop in
        time (then the segment stays mapped, since that thread may still use it)."""
        timeout = _check_timeout(timeout)
        deadline = time.monotonic() + timeout
        # Said first, without the lock: a hook that runs on past the timeout holds it, and the
        # watcher must still end once that hook returns.
        self._wanted = False
        self._stop_event.set()
        if not self._lock.acquire(timeout=timeout):
            log.warning("snapbus: stop: a hook was still running after %.1f s (%s); the watcher frees the slot "
                        "once it returns", timeout, self._in_progress_text())
            return False
        try:
            # Again under the lock: a start() in between made a new watcher and a new event.
            self._wanted = False
            self._stop_event.set()
            thread, self._thread = self._thread, None
            sub = self._sub
        finally:
            self._lock.release()
        # A watcher still waiting for a segment holds nothing: let it notice the flag by itself.
        if thread is not None and sub is not None and thread is not threading.current_thread():
            try:
                sub.wake()
            except SnapbusError as error:
                log.debug("snapbus: wake on stop: %s", error)
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("snapbus: the watcher thread did not stop within %.1f s (%s)", timeout,
                            self._why_the_watcher_is_still_there(sub))
                return False
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            log.warning("snapbus: stop: a hook was still running after %.1f s; the watcher frees the slot once "
                        "it returns", timeout)
            return False
        try:
            self._close_subscriber()
        finally:
            self._lock.release()
        return True

    def _close_subscriber(self) -> None:
        """Caller holds _lock: unmaps the segment and frees this process's slot."""
        with self._sub_lock:
            if self._sub is not None:
                _hot.detach(self.handled_generation)
                self._sub.close()
                self._sub = None

    def _why_the_watcher_is_still_there(self, sub: Subscriber) -> str:
        if self._handling is not None:
            return self._in_progress_text()
        # The futex word of a file truncated under the wait is gone: no wake reaches it.
        try:
            sub.read_state()
        except InvalidSegment:
            return (f"its wait on a truncated segment cannot be woken; it ends within "
                    f"{_WAIT_SLICE_MS / 1000:.1f} s")
        except SnapbusError:
            pass
        return "a hook still running?"

    def _in_progress_text(self) -> str:
        handling = self._handling
        if handling is None:
            return "no change in progress"
        if handling.shutdown_at_exit:
            return "shutdown hooks at exit"
        state = handling.state
        return f"handling seq {state.seq}, phase {getattr(state.phase, 'name', state.phase)}"

    def _start_handling(self, state: State, *, shutdown_at_exit: bool = False) -> None:
        """Caller holds _lock and is about to run hooks on this thread."""
        self._running_hooks.active = True
        self._handling = _Handling(state, threading.current_thread(), frozenset(threading.enumerate()),
                                   shutdown_at_exit)

    def _end_handling(self) -> None:
        handling = self._handling
        self._running_hooks.active = False
        self._handling = None
        if handling is not None:
            handling.child_claims.await_all()

    # ---- handling changes ----------------------------------------------------------------------

    def catch_up(self) -> State | None:
        """Handles the current state if this process has not: runs the due hooks, acknowledges.
        Returns the state handled, or None when detached or called from inside a hook."""
        if getattr(self._running_hooks, "active", False):
            return None  # a hook called back into snapbus: the outer call is handling this change
        with self._lock:
            sub = self._sub
            if sub is None:
                return None
            if sub.lost_reason() is not None:
                return None  # the watcher detaches and attaches to the new segment
            state = sub.read_state()
            if state.seq == self.handled_seq:
                return state
            report = RunReport()
            note = _running_hook_noter(sub)
            self._start_handling(state)
            try:
                if state.generation > self.handled_generation:
                    report.merge(self.after_restore.run(note))
                    self.handled_generation = state.generation
                    _hot.handled(state.generation)
                    if self._handled is not None:
                        self._handled = self._handled[:3] + (state.generation,)
                if state.phase == Phase.BEFORE_SNAPSHOT and self._before_snapshot_seq != state.seq:
                    report.merge(self.before_snapshot.run(note))
                    self._before_snapshot_seq = state.seq
                if state.phase == Phase.SHUTTING_DOWN and not self._shutdown_done:
                    report.merge(self.shutdown.run(note))
                    self._shutdown_done = True
            finally:
                self._end_handling()
            notice = ""
            # The bus refuses more failures than hooks run, and a group that could not list its
            # hooks failed without running one: it counts as one hook that ran and failed, so the
            # ack is taken and the publisher sees the failure.
            hooks_run = min(max(report.run, report.failed), _MAX_ACK_HOOKS)
            try:
                sub.ack(state.seq, self.handled_generation, ok=not report.failures, hooks_run=hooks_run,
                        hooks_failed=min(report.failed, hooks_run), message="; ".join(report.failures))
                notice = sub.notice()
            except SnapbusError as error:
                log.error("snapbus: cannot acknowledge seq %d: %s", state.seq, error)
            self.handled_seq = state.seq
        if notice:
            log.warning("snapbus: %s", notice)
        log.debug("snapbus: pid %d handled seq %d (%s): %d hooks, %d failed", os.getpid(), state.seq,
                  getattr(state.phase, "name", state.phase), report.run, report.failed)
        self._notify(state)
        if report.interrupt is not None:
            raise report.interrupt  # Ctrl-C in a hook on the main thread, now that the change is acknowledged
        return state

    def run_shutdown_hooks_at_exit(self, wait: float) -> None:
        """At interpreter exit, while attached to a segment: the shutdown hooks, if the bus has not
        run them. Lambda stops the runtime first (SIGTERM, up to 300 ms of its 2 s, then SIGKILL)
        and only then sends SHUTDOWN to the extensions, so the adapter's shutting-down finds the
        app's workers gone: their own exit is the last moment they can clean up."""
        if getattr(self._running_hooks, "active", False):
            return
        # Bounded: a hook that hangs on another thread must not keep the process from exiting.
        if not self._lock.acquire(timeout=wait):
            log.warning("snapbus: pid %d exiting: a hook is still running (%s); shutdown hooks skipped",
                        os.getpid(), self._in_progress_text())
            return
        try:
            sub = self._sub
            if sub is None or self._shutdown_done:
                return
            self._shutdown_done = True
            self._start_handling(self._last_state, shutdown_at_exit=True)
            try:
                report = self.shutdown.run(_running_hook_noter(sub))
            finally:
                self._end_handling()
        finally:
            self._lock.release()
        if report.run:
            log.info("snapbus: pid %d exiting: ran %d shutdown hooks (shutting-down was not published)%s",
                     os.getpid(), report.run, f"; {'; '.join(report.failures)}" if report.failures else "")

    def exit(self) -> None:
        """The atexit handler: the shutdown hooks still due, then stop(), waiting at most
        _EXIT_WAIT_SECONDS in all for a hook still running on another thread."""
        deadline = time.monotonic() + _EXIT_WAIT_SECONDS
        try:
            self.run_shutdown_hooks_at_exit(_EXIT_WAIT_SECONDS)
        finally:
            self.stop(max(0.0, deadline - time.monotonic()))

    def guard_catch_up(self) -> None:
        """catch_up() for request guards: a bus problem is logged, never raised into a request
        (the publisher already reports this process's missing acknowledgement)."""
        try:
            self.catch_up()
        except SnapbusError as error:
            log.error("snapbus: request guard cannot catch up: %s", error)

    def check(self) -> None:
        """The request guard: one generation comparison; catches up only when it differs."""
        if _hot.generation() != self.handled_generation:
            self.guard_catch_up()

    async def check_async(self) -> None:
        # On a thread, so the event loop keeps serving while the hooks run (or while that thread
        # waits for the watcher thread that is already running them). One thread of its own per loop,
        # which every request held meanwhile awaits, not one of the loop's default executor per
        # request: those would fill that pool, and a hook that waits for work it hands the loop
        # (loop.getaddrinfo, asyncio.to_thread: an async client reconnecting) would wait for ever.
        import asyncio

        while True:
            target = _hot.generation()
            if target == self.handled_generation:
                return
            pending, started_at = self._catch_up_on_a_thread(asyncio.get_running_loop())
            # Shielded: a held request that is cancelled (its client left) ends its own wait only.
            await asyncio.shield(pending)
            # A catch-up begun once this request's generation was out has handled it, or logged why
            # not; one begun before it (a restore came while it ran) may not have: wait for the next.
            if started_at >= target:
                return

    def _catch_up_on_a_thread(self, loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Future, int]:
        """The loop's catch-up in progress, or a new one: its future, and the generation when it began."""
        with self._async_catch_up_lock:
            running = self._async_catch_ups.get(loop)
            if running is not None:
                return running
            pending = loop.create_future()
            started = (pending, _hot.generation())
            thread = threading.Thread(target=self._catch_up_for_loop, args=(loop, pending), name="snapbus-catch-up",
                                      daemon=True)
            thread.start()  # before it is shared: one that cannot start must not leave the loop a future none settles
            self._async_catch_ups[loop] = started  # the thread removes it under this lock, so only after this
            return started

    def _catch_up_for_loop(self, loop: asyncio.AbstractEventLoop, pending: asyncio.Future) -> None:
        error: Exception | None = None
        try:
            self.guard_catch_up()
        except Exception as caught:  # a bug: raised in the held requests, as a failed executor call is
            error = caught
        with self._async_catch_up_lock:
            # A request that comes after this starts a catch-up anew. (In a child a hook forked, the
            # entry is gone with the parent's table.)
            if self._async_catch_ups.get(loop, (None, 0))[0] is pending:
                del self._async_catch_ups[loop]
        try:
            loop.call_soon_threadsafe(_settle, pending, error)
        except RuntimeError:
            pass  # the loop was closed meanwhile: nobody waits

    def _watch(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sub = self._sub
                if sub is None:
                    self._wait_and_attach(stop)
                    continue
                reason = sub.lost_reason()
                if reason is not None:
                    self._detach_lost(sub, reason)
                    continue
                self._let_imports_finish(sub, stop)
                self.catch_up()
                if stop.is_set():
                    break
                # Said before the wish is read: a wait_for_change() that finds this False sets its
                # wish before this thread reads it; one that finds it True wakes this wait.
                self._asleep_for_hook_phases = True
                every_change = self._every_change_wanted
                if every_change:
                    self._asleep_for_hook_phases = False
                    self._every_change_armed.set()
                try:
                    sub.wait(self.handled_seq, _WAIT_SLICE_MS, hook_phases_only=not every_change)
                except InvalidSegment:
                    if sub.lost_reason() is None:
                        raise
                    # Lost just now: the next pass detaches, as it does for a loss found before waiting.
                finally:
                    self._asleep_for_hook_phases = False
            except SnapbusError as error:
                self._report_watcher_error(error)
                stop.wait(_RETRY_SECONDS)
            # SystemExit too: a watcher that ended silently would leave every later phase of this
            # process unhandled. (A hook's own failures, SystemExit included, go into its ack.)
            except (Exception, SystemExit) as error:  # noqa: BLE001 - the watcher must outlive any surprise, and say so
                log.exception("snapbus: watcher: unexpected error: %s", error)
                stop.wait(_RETRY_SECONDS)
        # A stop() that gave up waiting for a hook left the slot to this thread: free it, unless a
        # start() since then wants it (or a newer watcher owns it).
        with self._lock:
            if not self._wanted and self._thread in (None, threading.current_thread()):
                self._close_subscriber()

    def _let_imports_finish(self, sub: Subscriber, stop: threading.Event) -> None:
        """Holds a before-snapshot phase while another thread of this process is importing a module.
        A process subscribes at its first registration, often half-way through importing the app
        (a worker that registers, then loads a model); Lambda's runtime client runs these hooks only
        once the handler's import has ended. So the snapshot never catches an import in flight, and
        the hooks that the rest of the import registers run too. Called without _lock, which that
        import may need to register."""
        started = time.monotonic()
        said = warned = False
        while not stop.is_set():
            state = sub.read_state()
            if state.phase != Phase.BEFORE_SNAPSHOT or state.seq in (self.handled_seq, self._before_snapshot_seq):
                return
            module = _module_being_imported()
            if module is None:
                return
            if not said:
                log.info("snapbus: pid %d: before-snapshot waits until the import of %s has finished",
                         os.getpid(), module)
                said = True
            elif not warned and time.monotonic() - started > _IMPORT_WARN_SECONDS:
                # Past a normal worker's start: an import that never ends (a server run at import
                # time) would hold the snapshot until the adapter's timeout, so say so where it shows.
                log.warning("snapbus: pid %d: before-snapshot has waited %.0f s for the import of %s to finish",
                            os.getpid(), time.monotonic() - started, module)
                warned = True
            stop.wait(_IMPORT_POLL_SECONDS)

    def _report_watcher_error(self, error: SnapbusError) -> None:
        # A lasting problem (a segment we may not open) is logged once, not on every retry.
        text = f"{type(error).__name__}: {error}"
        if text != self._last_watcher_error:
            self._last_watcher_error = text
            log.error("snapbus: watcher: %s", text)

    def _wait_and_attach(self, stop: threading.Event) -> None:
        try:
            appeared = wait_for_segment(self.segment_path(), _WAIT_SLICE_MS)
        except SegmentNotFound:
            # Not even its directory exists yet (inotify has nothing to watch): poll instead.
            stop.wait(_WAIT_SLICE_MS / 1000)
            return
        if not appeared or stop.is_set():
            return
        try:
            self._attach(stop)
        except SegmentNotFound as error:
            # Removed again before we opened it.
            log.debug("snapbus: segment gone again: %s", error)
            stop.wait(_ATTACH_RETRY_SECONDS)
        except InvalidSegment as error:
            # A publisher renames a segment into place whole, so this file is not one of ours (or it
            # is damaged): said once, and looked at again as for any other lasting error.
            self._report_watcher_error(error)
            stop.wait(_RETRY_SECONDS)

    # ---- waiting for changes -------------------------------------------------------------------

    def state(self) -> State:
        with self._sub_lock:
            if self._sub is None:
                return State.detached()
            try:
                return self._sub.read_state()
            except InvalidSegment:
                # Truncated under this process: the watcher lets it go at its next look. Until then
                # there is no state to read, and generation() keeps what was handled (state() answers
                # in request handlers: it does not raise).
                _hot.detach(self.handled_generation)
                return State.detached()

    def _notify(self, state: State) -> None:
        with self._changed:
            self._last_state = state
            self._changes += 1
            self._changed.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future, state)
            except RuntimeError:  # that loop is closed; nobody is waiting any more
                pass

    def _want_every_change(self) -> None:
        """Makes the watcher take every change from now on. A watcher busy elsewhere (hooks, an
        attach) reads the wish before its next wait. One asleep for hook phases only is woken to
        wait again; the wake can come just before it sleeps, so it is repeated until the watcher
        says it waits for every change (for at most a second)."""
        if self._every_change_armed.is_set():
            return
        self._every_change_wanted = True
        give_up = time.monotonic() + _ARM_SECONDS
        while (self._asleep_for_hook_phases and not self._every_change_armed.is_set()
               and time.monotonic() < give_up):
            with self._sub_lock:
                sub = self._sub
                if sub is None:
                    return
                # Every process's waiters on this seq wake and, seeing no change, sleep again.
                sub.wake()
            self._every_change_armed.wait(_ARM_POKE_SECONDS)

    def _refuse_in_hook(self, call: str) -> None:
        # The change such a wait is for can only be handled by the thread the hook is running on.
        if getattr(self._running_hooks, "active", False):
            raise InvalidArgument(f"{call}() cannot be called from a hook: this thread is handling the change it "
                                  "would wait for, and would wait forever")

    def wait_for_change(self, timeout: float | None) -> State | None:
        timeout = None if timeout is None else _check_timeout(timeout)
        self._refuse_in_hook("wait_for_change")
        if not self.running:
            raise NotStarted("wait_for_change needs the watcher thread: call snapbus.start() first")
        self._want_every_change()
        with self._changed:
            seen = self._changes
            if not self._changed.wait_for(lambda: self._changes != seen, timeout):
                return None
            return self._last_state

    async def wait_for_change_async(self, timeout: float | None) -> State | None:
        timeout = None if timeout is None else _check_timeout(timeout)
        self._refuse_in_hook("wait_for_change_async")
        if not self.running:
            raise NotStarted("wait_for_change_async needs the watcher thread: call snapbus.start() first")
        import asyncio

        loop = asyncio.get_running_loop()
        if not self._every_change_armed.is_set():
            await loop.run_in_executor(None, self._want_every_change)
        future = loop.create_future()
        with self._changed:
            self._async_waiters.append((loop, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            with self._changed:
                if (loop, future) in self._async_waiters:
                    self._async_waiters.remove((loop, future))

    # ---- fork ----------------------------------------------------------------------------------

    def before_fork(self) -> None:
        # Fork between two changes, so the child inherits whole handled_* values and runs every hook
        # of a change itself. Except the hooks' own forks: in a hook, or on a thread a hook started (a
        # multiprocessing pool's), which must not wait for the hooks that wait for them. Such a
        # child is a copy of a process in the middle of those hooks, and takes the change as handled.
        # A thread that was there before may be one the hooks wait for too (the worker handler of a
        # pool made at start-up, which forks the workers a hook maps its work on): no fork waits
        # longer than _FORK_WAIT_SECONDS, then it is taken for one of the hooks' own.
        handling = self._handling
        me = threading.current_thread()
        if handling is not None and (me is handling.thread or me not in handling.threads_before
                                     or handling is self._fork_waited_out):
            self._fork_lock.acquired = self._lock.acquire(blocking=False)  # re-entry on the hook's own thread
            self._adopt_in_child(handling)
            return
        while not self._lock.acquire(timeout=_FORK_WAIT_SECONDS):
            handling = self._handling
            if handling is not None:
                log.debug("snapbus: pid %d: a fork waited %.1f s for the hooks (%s); the child takes that change "
                          "as handled", os.getpid(), _FORK_WAIT_SECONDS, self._in_progress_text())
                self._fork_waited_out = handling
                self._fork_lock.acquired = False
                self._adopt_in_child(handling)
                return
        self._fork_lock.acquired = True
        self._fork_lock.adopts = None
        self._fork_lock.claimed = None

    def _adopt_in_child(self, handling: "_Handling") -> None:
        """The fork about to be made on this thread is the hooks': its child takes the change as
        handled, and, unless the hooks are the ones run at exit (no publisher waits then), tells the
        parent through a pipe once it holds its slot."""
        self._fork_lock.adopts = handling
        self._fork_lock.claimed = None
        if not handling.shutdown_at_exit:
            self._fork_lock.claimed = _ChildClaims.open_pipe()

    def after_fork_parent(self) -> None:
        adopts = getattr(self._fork_lock, "adopts", None)
        claimed = getattr(self._fork_lock, "claimed", None)
        self._fork_lock.adopts = self._fork_lock.claimed = None
        if claimed is not None:
            _ChildClaims.close(claimed[1])
            if adopts is None or not adopts.child_claims.add(claimed[0]):
                _ChildClaims.close(claimed[0])  # the hooks are done: nothing waits for this child any more
        if getattr(self._fork_lock, "acquired", False):
            self._fork_lock.acquired = False
            self._lock.release()

    def after_fork_child(self) -> None:
        adopts = getattr(self._fork_lock, "adopts", None)
        claimed = getattr(self._fork_lock, "claimed", None)
        self._fork_lock.adopts = self._fork_lock.claimed = None
        try:
            self._set_up_forked_child(adopts)
        finally:
            # Slot or none, the parent's acknowledgement may go: a byte says so even if another
            # child holds a copy of this pipe's write end (a fork on another thread in between).
            if claimed is not None:
                try:
                    os.write(claimed[1], b"\0")
                except OSError:
                    pass
            # And this child holds up no other child's end of file (the pipes of forks in flight on
            # other threads, the read ends the parent holds).
            _ChildClaims.close_all_in_child()

    def _set_up_forked_child(self, adopts: "_Handling | None") -> None:
        self._handling = None
        self._reset_locks()
        self._async_waiters = []  # their event loops belong to the parent
        self._async_catch_ups = {}
        # A fresh Event (its lock may have been held by a parent thread at the fork); the wish to
        # take every change is inherited, and this child's watcher arms it anew.
        self._every_change_armed = threading.Event()
        self._asleep_for_hook_phases = False
        self._thread = None
        if adopts is not None:
            self._adopt_change_in_progress(adopts)
        if self._sub is not None:
            try:
                if adopts is not None and not adopts.shutdown_at_exit:
                    self._sub.after_fork_child_within_change(self.handled_seq, self.handled_generation)
                    log.debug("snapbus: pid %d was forked while seq %d was handled: takes it as handled",
                              os.getpid(), self.handled_seq)
                else:
                    self._sub.after_fork_child()
            except SnapbusError as error:
                # The child cannot be waited for; it must not ack in the parent's slot either.
                log.error("snapbus: forked child %d has no slot of its own: %s", os.getpid(), error)
                _hot.detach(self.handled_generation)
                self._sub = None
        if self._wanted:
            self._spawn_watcher()

    def _adopt_change_in_progress(self, handling: "_Handling") -> None:
        """A child forked by the hooks of a change (a pool or helper a hook starts) is a copy of a
        process in the middle of those hooks: it runs none of them again, and its slot is born
        acknowledging the change (after_fork_child), so the publisher neither waits for it nor
        counts it as died when it is ended as pool workers are, however soon."""
        if handling.shutdown_at_exit:
            self._shutdown_done = True
            return
        state = handling.state
        if state.generation > self.handled_generation:
            self.handled_generation = state.generation
            _hot.handled(state.generation)
            if self._handled is not None:
                self._handled = self._handled[:3] + (state.generation,)
        if state.phase == Phase.BEFORE_SNAPSHOT:
            self._before_snapshot_seq = state.seq
        if state.phase == Phase.SHUTTING_DOWN:
            self._shutdown_done = True
        self.handled_seq = state.seq


def _settle(future: asyncio.Future, error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


@dataclasses.dataclass(frozen=True)
class _Handling:
    """A change whose hooks run now: on which thread, and which threads were there before."""

    state: State
    thread: threading.Thread
    threads_before: frozenset
    shutdown_at_exit: bool = False
    child_claims: "_ChildClaims" = dataclasses.field(default_factory=lambda: _ChildClaims())


class _ChildClaims:
    """The children a change's hooks forked, until each holds its slot: the read end of a pipe per
    child, to which the child writes a byte once it holds its slot (end of file if it dies first,
    or runs another program: the ends are close-on-exec). The change's acknowledgement waits for
    them all."""

    # Every end of these pipes open in this process: a forked child closes them all, so that it
    # holds up no other child's end of file (a fork in flight on another thread, or an older sibling).
    _open: set = set()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_ends: list = []
        self._done = False

    @classmethod
    def open_pipe(cls) -> tuple:
        ends = os.pipe()
        cls._open.update(ends)
        return ends

    @classmethod
    def close(cls, fd: int) -> None:
        cls._open.discard(fd)
        os.close(fd)

    @classmethod
    def close_all_in_child(cls) -> None:
        for fd in list(cls._open):
            try:
                os.close(fd)
            except OSError:
                pass
        cls._open.clear()

    def add(self, read_end: int) -> bool:
        """False once the hooks are done and waited: the caller closes it, and nothing waits."""
        with self._lock:
            if self._done:
                return False
            self._read_ends.append(read_end)
            return True

    def await_all(self) -> None:
        """Until every child holds its slot, for _CHILD_CLAIM_WAIT_SECONDS at most; then closes the pipes."""
        with self._lock:
            self._done = True
            waiting, self._read_ends = self._read_ends, []
        deadline = time.monotonic() + _CHILD_CLAIM_WAIT_SECONDS
        try:
            while waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("snapbus: pid %d: %d child(ren) its hooks forked had no slot after %.1f s; "
                                "acknowledging without waiting for them", os.getpid(), len(waiting),
                                _CHILD_CLAIM_WAIT_SECONDS)
                    return
                # poll, not select: a busy server's descriptors may be past select()'s 1024.
                poller = select.poll()
                for fd in waiting:
                    poller.register(fd, select.POLLIN)
                for fd, _ in poller.poll(remaining * 1000):
                    os.read(fd, 1)  # its byte, or end of file: that child is done either way
                    waiting.remove(fd)
                    _ChildClaims.close(fd)
        finally:
            for fd in waiting:
                _ChildClaims.close(fd)


def _module_being_imported() -> str | None:
    """The module another thread of this process is importing now (its outermost import), or None."""
    me = threading.get_ident()
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        outermost = None
        while frame is not None:
            code = frame.f_code
            if code.co_name == "_find_and_load" and code.co_filename == _IMPORT_SYSTEM_FILE:
                outermost = frame
            frame = frame.f_back
        if outermost is not None:
            return str(outermost.f_locals.get("name", "a module"))
    return None


def _running_hook_noter(sub: Subscriber):
    """The `starting` callback of HookList.run: which hook runs now goes into the slot, so a
    publisher that stops waiting names it."""
    def note(phase: str, hook: str) -> None:
        try:
            sub.note_running_hook(phase, hook)
        except SnapbusError as error:
            log.debug("snapbus: cannot note the running hook: %s", error)

    return note


def _check_timeout(timeout) -> float:
    """A timeout in seconds: a real number, at least 0 (checked before anything is done)."""
    # bool is an int to Python, but timeout=True is a mistake, not one second.
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
        raise TypeError(f"a snapbus timeout is a number of seconds, not {type(timeout).__name__}")
    if not timeout >= 0:  # NaN too
        raise InvalidArgument(f"a snapbus timeout must be 0 or more seconds, not {timeout}")
    return float(timeout)


def _resolve(future: asyncio.Future, state: State) -> None:
    if not future.done():
        future.set_result(state)


def _take_first_look(path=None) -> None:
    # Which restores this process lived through is judged from its first look at the segment
    # (client-semantics.md), so the default one is taken at import, as early as the app allows.
    try:
        first_look(path)
    except SnapbusError as error:
        log.debug("snapbus: first look at %s: %s", path or "the default segment", error)


_take_first_look()
CLIENT = _Client()
os.register_at_fork(before=CLIENT.before_fork, after_in_parent=CLIENT.after_fork_parent,
                    after_in_child=CLIENT.after_fork_child)
atexit.register(CLIENT.exit)
