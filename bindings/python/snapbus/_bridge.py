"""The snapshot_restore_py bridge: hooks registered with Lambda's own module run through snapbus.

The bridge adds one group to the before-snapshot list and one to the after-restore list. Each
time a phase runs, the group reads the module's live lists (get_before_snapshot() and
get_after_restore() return (func, args, kwargs) entries), so hooks registered at any time run,
in the documented order: before-snapshot last-registered first, after-restore first-registered
first. Unlike awslambdaric, a failing hook does not stop the others (snapbus semantics), and the
lists are left intact.

The module is looked up in sys.modules when the phase runs: code that registered hooks has
imported it, and a process that never did has none to run. Where Lambda's runtime client runs
(awslambdaric.bootstrap imported), it calls the hooks itself; its forked children get them from
the bridge.

A process subscribes at its first registration (start_on_first_registration), whether the app
imported snapbus or the zero-code startup did, and not when its interpreter starts: a server's
supervisor or multiprocessing's resource tracker never registers a hook and never subscribes, so
the subscriber count means "workers". A worker's first registration often comes half-way through
importing the app; its before-snapshot phase then waits for that import to end (the client's
_let_imports_finish), so the snapshot cannot catch it half-way. A process that imported
snapshot_restore_py before snapbus subscribes when snapbus is imported. (SNAPBUS_AUTOSTART=0 turns
the start off, as for snapbus's own decorators.)
"""
import functools
import importlib.machinery
import logging
import os
import sys

from ._hooks import Hook, HookGroup, hook_name

log = logging.getLogger("snapbus")

MODULE = "snapshot_restore_py"
# When Lambda's runtime client runs in this process it calls these hooks itself.
_RUNTIME_CLIENT_MODULE = "awslambdaric.bootstrap"

_installed = False
_starting_installed = False
_REGISTER_FUNCTIONS = ("register_before_snapshot", "register_after_restore")
# A forked child inherits sys.modules, not the runtime client's loop: no one there calls the hooks.
_forked_from_runtime_client = False


def _note_fork() -> None:
    global _forked_from_runtime_client
    _forked_from_runtime_client = _forked_from_runtime_client or _RUNTIME_CLIENT_MODULE in sys.modules


os.register_at_fork(after_in_child=_note_fork)


def _hooks_from(getter_name: str):
    def expand():
        module = sys.modules.get(MODULE)
        if module is None:
            return []
        if _RUNTIME_CLIENT_MODULE in sys.modules and not _forked_from_runtime_client:
            log.debug("snapbus: %s runs the %s hooks in this process; the bridge leaves them to it",
                      _RUNTIME_CLIENT_MODULE, MODULE)
            return []
        return [Hook(f"{MODULE}:{hook_name(func, None)}", _call_later(func, args, kwargs), unawaited_fails=False)
                for func, args, kwargs in list(getattr(module, getter_name)())]

    return expand


def _call_later(func, args, kwargs):
    # Not functools.partial, which refuses a non-callable at once: that would fail the listing of
    # the whole group, and none of the module's hooks would run. A registration of something that
    # cannot be called (register_after_restore(pool.reset()) registers reset's result) fails as
    # that one hook, named, when it runs, as Lambda's runner fails on it.
    return lambda: func(*args, **kwargs)


def install(client) -> None:
    """Adds the bridge's groups to client's lists (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    client.before_snapshot.add(HookGroup(MODULE, _hooks_from("get_before_snapshot")))
    client.after_restore.add(HookGroup(MODULE, _hooks_from("get_after_restore")))


def start_on_first_registration(start) -> None:
    """Calls start() after the first snapshot_restore_py.register_* call in this process: the module
    is wrapped as it is imported (the startup sitecustomize runs before any user code imports it),
    or in place when it is already imported. Once per process."""
    global _starting_installed
    if _starting_installed:
        return
    _starting_installed = True
    module = sys.modules.get(MODULE)
    if module is not None:
        _wrap_register_functions(module, start)
        # Imported before snapbus: hooks may be registered already, or later through names bound
        # before the wrapping (`from snapshot_restore_py import register_after_restore`), which
        # would never start anything. This process uses the module: it subscribes now.
        _start_quietly(start, "import snapbus")
        return
    sys.meta_path.insert(0, _RegistrationFinder(start))


def _start_quietly(start, after: str) -> None:
    # Lambda's register functions never raise: a snapbus that cannot start (a malformed
    # SNAPBUS_* variable, an unusable segment) must not break the import that registers.
    try:
        start()
    except Exception as error:  # noqa: BLE001 - logged, the registration itself stands
        log.error("snapbus: cannot start after %s: %s: %s; hooks registered with %s will not run "
                  "through snapbus in this process", after, type(error).__name__, error, MODULE)


def _wrap_register_functions(module, start) -> None:
    for name in _REGISTER_FUNCTIONS:
        original = getattr(module, name, None)
        if callable(original) and not getattr(original, "_snapbus_wrapped", False):
            setattr(module, name, _starting_after(original, start))


def _starting_after(register, start):
    @functools.wraps(register)
    def wrapper(*args, **kwargs):
        result = register(*args, **kwargs)
        _start_quietly(start, f"{MODULE}.{register.__name__}")
        return result

    wrapper._snapbus_wrapped = True
    return wrapper


# The finder and the loader implement the import protocol's methods without deriving from
# importlib.abc's classes: importing importlib.abc brings importlib.resources along, a tenth of the
# time `import snapbus` takes, in every process that zero-code mode starts in.
class _RegistrationFinder:
    """Finds snapshot_restore_py where the import system would, and wraps its register functions
    once it has run; only then takes itself off sys.meta_path. A lookup that imports nothing
    (importlib.util.find_spec, the usual test for an optional module) leaves it in place for the
    import that follows."""

    def __init__(self, start):
        self._start = start

    def find_spec(self, fullname, path, target=None):
        if fullname != MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _WrappingLoader(spec.loader, self)
        return spec

    def wrap(self, module) -> None:
        sys.meta_path[:] = [finder for finder in sys.meta_path if finder is not self]
        _wrap_register_functions(module, self._start)


class _WrappingLoader:
    def __init__(self, inner, finder: _RegistrationFinder):
        self._inner = inner
        self._finder = finder

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        self._finder.wrap(module)
