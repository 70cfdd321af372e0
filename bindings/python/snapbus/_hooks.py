"""Hook lists and the CRaC-style runner: every hook runs, failures are collected and described.

A list holds plain hooks and groups. A group (the snapshot_restore_py bridge) expands into its
hooks each time the list runs, so hooks added to it after registration still run, in place.

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

BEFORE_SNAPSHOT = "before-snapshot"
AFTER_RESTORE = "after-restore"
SHUTDOWN = "shutdown"


@dataclasses.dataclass(frozen=True)
class Hook:
    name: str
    func: Callable[[], object]
    order: int = 0


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

    @property
    def failed(self) -> int:
        return len(self.failures)

    def merge(self, other: "RunReport") -> None:
        self.run += other.run
        self.failures.extend(other.failures)


def hook_name(func, explicit: str | None) -> str:
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
        return [hook.name for hook in self._hooks_in_run_order(RunReport())]

    def _hooks_in_run_order(self, report: RunReport) -> list[Hook]:
        with self._lock:
            entries = list(self._entries)
        # Stable sort on order alone keeps registration order (and a group's own order) for ties.
        entries.sort(key=lambda entry: entry.order)
        hooks: list[Hook] = []
        for entry in entries:
            if isinstance(entry, Hook):
                hooks.append(entry)
                continue
            try:
                hooks.extend(entry.expand())
            except Exception as error:  # noqa: BLE001 - a broken group is one more reported failure
                self._fail(report, f"{self.phase} hooks of '{entry.name}' could not be listed", error)
        return hooks[::-1] if self._last_first else hooks

    def run(self, starting=None) -> RunReport:
        """Calls every hook in this phase's order; one failure never stops the others. `starting`,
        when given, is called with (phase, hook name) just before each hook runs."""
        report = RunReport()
        for hook in self._hooks_in_run_order(report):
            report.run += 1
            if starting is not None:
                starting(self.phase, hook.name)
            try:
                hook.func()
            except Exception as error:  # noqa: BLE001 - every hook's failure is reported, CRaC-style
                self._fail(report, f"{self.phase} hook '{hook.name}' failed", error)
        return report

    @staticmethod
    def _fail(report: RunReport, what: str, error: Exception) -> None:
        description = f"{what}: {type(error).__name__}: {error}"
        log.error("%s", description, exc_info=error)
        report.failures.append(description)
