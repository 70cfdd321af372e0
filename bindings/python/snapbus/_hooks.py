"""Hook lists and the CRaC-style runner: every hook runs, failures are collected and described.

A list holds plain hooks and groups. A group (the snapshot_restore_py bridge) expands into its
hooks each time the list runs, so hooks added to it after registration still run, in place. Hooks
registered while the list runs (a hook that imports a driver, which registers its own hook) run in
the same run, where Lambda's runner (awslambdaric's lambda_runtime_hooks_runner) reaches them in
the module's live list: before a snapshot, which it pops from the end, right after the hook that
registered them; after a restore, which it walks from the start, after the others.

Ordering rule (the C++ client's, clients/cpp/include/snapbus/hook_registry.h): each entry has an
``order`` (default 0) and its registration index. After a restore, hooks run in ascending
(order, registration index): registration order when nobody sets order. Before a snapshot and at
shutdown they run in exactly the reverse. A lower order means "outer": its after-restore hook runs
before anyone else's, its before-snapshot hook after everyone else's. A group's hooks share the
group's place.
"""
import dataclasses
import inspect
import logging
import threading
from typing import Callable, Iterable

log = logging.getLogger("snapbus")

# How deep hooks registered by hooks (registered by hooks...) may go in one run.
_LATE_REGISTRATION_LEVELS = 10

BEFORE_SNAPSHOT = "before-snapshot"
AFTER_RESTORE = "after-restore"
SHUTDOWN = "shutdown"


@dataclasses.dataclass(frozen=True)
class Hook:
    name: str
    func: Callable[[], object]
    order: int = 0
    # False for snapshot_restore_py's hooks: Lambda's runner calls an async def one and drops the
    # coroutine with a warning, so a function that restores under Lambda must not fail here.
    unawaited_fails: bool = True


@dataclasses.dataclass(frozen=True)
class HookGroup:
    """Hooks supplied at run time, in registration order, by expand()."""

    name: str
    expand: Callable[[], Iterable[Hook]]
    order: int = 0


@dataclasses.dataclass
class RunReport:
    run: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    # A KeyboardInterrupt a hook raised on the main thread: reported like any failure, and raised
    # again by the caller once the phase is acknowledged, so Ctrl-C still interrupts the program.
    interrupt: BaseException | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)

    def merge(self, other: "RunReport") -> None:
        self.run += other.run
        self.failures.extend(other.failures)
        self.interrupt = self.interrupt or other.interrupt


def hook_name(func, explicit: str | None) -> str:
    if explicit is not None and not isinstance(explicit, str):
        raise TypeError(f"a snapbus hook's name must be a str, not {type(explicit).__name__}")
    if explicit:
        return explicit
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{qualname}" if module else qualname


def check_order(order) -> int:
    # bool is an int to Python, but order=True is a mistake, not a position.
    if not isinstance(order, int) or isinstance(order, bool):
        raise TypeError(f"a snapbus hook's order must be an int, not {type(order).__name__}")
    return order


def check_hook(func) -> None:
    if not callable(func):
        raise TypeError(f"a snapbus hook must be callable, not {type(func).__name__}")
    if inspect.iscoroutinefunction(func):
        # Hooks run on the watcher thread, which has no event loop to await them on.
        raise TypeError(f"{hook_name(func, None)} is a coroutine function; snapbus hooks are plain "
                        "functions (await snapbus.wait_for_change_async() for async work)")


@dataclasses.dataclass
class _Pass:
    """What one run of a list has listed so far: how many entries, and each group's hook count."""

    entries: int = 0
    expanded: dict[int, int] = dataclasses.field(default_factory=dict)


class HookList:
    """The hooks of one phase, thread-safe to add to while another thread runs them."""

    def __init__(self, phase: str, last_first: bool):
        self.phase = phase
        self._last_first = last_first
        self._entries: list[Hook | HookGroup] = []
        self._lock = threading.Lock()

    def add(self, entry: Hook | HookGroup) -> None:
        with self._lock:
            self._entries.append(entry)

    def reset_lock_after_fork(self) -> None:
        self._lock = threading.Lock()

    def names_in_run_order(self) -> list[str]:
        """The hook names in the order run() calls them (groups expanded)."""
        return [hook.name for hook in self._hooks_in_run_order(RunReport(), _Pass())]

    def _hooks_in_run_order(self, report: RunReport, seen: "_Pass") -> list[Hook]:
        """The hooks to run, groups expanded; `seen` records what this pass has listed, for
        _hooks_added_since()."""
        with self._lock:
            entries = list(self._entries)
        seen.entries = len(entries)
        # Stable sort on order alone keeps registration order (and a group's own order) for ties.
        entries.sort(key=lambda entry: entry.order)
        hooks = self._listed(entries, report, seen)
        return hooks[::-1] if self._last_first else hooks

    def _listed(self, entries: list, report: RunReport, seen: "_Pass") -> list[Hook]:
        hooks: list[Hook] = []
        for entry in entries:
            if isinstance(entry, Hook):
                hooks.append(entry)
                continue
            group_hooks = self._expand(entry, report)
            if group_hooks is None:
                continue
            seen.expanded[id(entry)] = len(group_hooks)
            hooks.extend(group_hooks)
        return hooks

    def _expand(self, group: HookGroup, report: RunReport) -> list[Hook] | None:
        """The group's hooks; None (and one more failure in the report) when it cannot list them."""
        try:
            return list(group.expand())
        except Exception as error:  # noqa: BLE001 - a broken group is one more reported failure
            self._fail(report, f"{self.phase} hooks of '{group.name}' could not be listed", error)
            return None

    def _hooks_added_since(self, seen: "_Pass", report: RunReport) -> list[Hook]:
        """The hooks registered since `seen` was recorded (entries and groups' lists only grow at
        the end): groups' new hooks, then new entries, in this phase's order; updates `seen`."""
        with self._lock:
            # A group that could not be listed at first has been reported once, and is not retried.
            groups = [entry for entry in self._entries if isinstance(entry, HookGroup) and id(entry) in seen.expanded]
            new_entries = self._entries[seen.entries:]
            seen.entries = len(self._entries)
        added: list[Hook] = []
        for group in groups:
            group_hooks = self._expand(group, report)
            if group_hooks is None:
                del seen.expanded[id(group)]
                continue
            added.extend(group_hooks[seen.expanded[id(group)]:])
            seen.expanded[id(group)] = len(group_hooks)
        added.extend(self._listed(sorted(new_entries, key=lambda entry: entry.order), report, seen))
        return added[::-1] if self._last_first else added

    def run(self, starting=None) -> RunReport:
        """Calls every hook in this phase's order; one failure never stops the others. `starting`,
        when given, is called with (phase, hook name) just before each hook runs. Hooks registered
        while the phase runs (by a hook) run in the same run: next when the list runs last-first,
        after the others when it runs first-first (see the module's docstring)."""
        report = RunReport()
        seen = _Pass()
        # (hook, depth): depth counts the hooks that registered it, one inside the other.
        stack = [(hook, 0) for hook in reversed(self._hooks_in_run_order(report, seen))]
        later: list[tuple[Hook, int]] = []
        too_deep = False
        while stack or later:
            if not stack:
                stack, later = later[::-1], []
            hook, depth = stack.pop()
            self._run_one(hook, report, starting)
            added = self._hooks_added_since(seen, report)
            if not added:
                continue
            # A hook that registers another every time it runs would never let the phase end: its
            # registrations stop being run (once said), the other hooks still run.
            if depth + 1 > _LATE_REGISTRATION_LEVELS:
                if not too_deep:
                    self._fail(report, f"{self.phase} hooks kept registering more hooks",
                               RuntimeError(f"{len(added)} still new {_LATE_REGISTRATION_LEVELS} levels deep"))
                    too_deep = True
                continue
            if self._last_first:
                stack.extend((new, depth + 1) for new in reversed(added))
            else:
                later.extend((new, depth + 1) for new in added)
        return report

    def _run_one(self, hook: Hook, report: RunReport, starting) -> None:
        report.run += 1
        try:
            if starting is not None:
                starting(self.phase, hook.name)
            result = hook.func()
            if inspect.isawaitable(result):
                # An async __call__, or a lambda around a coroutine function: nothing of its body ran.
                if inspect.iscoroutine(result):
                    result.close()
                why = f"it returned {type(result).__name__}, which nothing awaits"
                if hook.unawaited_fails:
                    raise TypeError(f"{why}: snapbus hooks are plain functions")
                log.warning("snapbus: %s hook '%s' did nothing: %s (Lambda's runner ignores it too, with a "
                            "RuntimeWarning)", self.phase, hook.name, why)
        # Any BaseException (SystemExit, KeyboardInterrupt): raised on the watcher thread it would
        # end the thread, silently, and every later phase of this process with it; reported, it
        # fails the phase as Lambda's runner does.
        except BaseException as error:  # noqa: BLE001 - every hook's failure is reported, CRaC-style
            self._fail(report, f"{self.phase} hook '{hook.name}' failed", error)
            if isinstance(error, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
                report.interrupt = report.interrupt or error

    @staticmethod
    def _fail(report: RunReport, what: str, error: BaseException) -> None:
        description = f"{what}: {type(error).__name__}: {error}"
        log.error("%s", description, exc_info=error)
        report.failures.append(description)
