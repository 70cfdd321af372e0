"""The snapshot_restore_py bridge: hooks registered with Lambda's own module run through snapbus.

The bridge adds one group to the before-snapshot list and one to the after-restore list. Each
time a phase runs, the group reads the module's live lists (get_before_snapshot() and
get_after_restore() return (func, args, kwargs) entries), so hooks registered at any time run,
in the documented order: before-snapshot last-registered first, after-restore first-registered
first. Unlike awslambdaric, a failing hook does not stop the others (snapbus semantics), and the
lists are left intact.

The module is looked up in sys.modules when the phase runs: code that registered hooks has
imported it, and a process that never did has none to run.
"""
import functools
import logging
import sys

from ._hooks import Hook, HookGroup, hook_name

log = logging.getLogger("snapbus")

MODULE = "snapshot_restore_py"
# When Lambda's runtime client runs in this process it calls these hooks itself.
_RUNTIME_CLIENT_MODULE = "awslambdaric.bootstrap"

_installed = False


def _hooks_from(getter_name: str):
    def expand():
        module = sys.modules.get(MODULE)
        if module is None:
            return []
        if _RUNTIME_CLIENT_MODULE in sys.modules:
            log.debug("snapbus: %s runs the %s hooks in this process; the bridge leaves them to it",
                      _RUNTIME_CLIENT_MODULE, MODULE)
            return []
        return [Hook(f"{MODULE}:{hook_name(func, None)}", functools.partial(func, *args, **kwargs))
                for func, args, kwargs in list(getattr(module, getter_name)())]

    return expand


def install(client) -> None:
    """Adds the bridge's groups to client's lists (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    client.before_snapshot.add(HookGroup(MODULE, _hooks_from("get_before_snapshot")))
    client.after_restore.add(HookGroup(MODULE, _hooks_from("get_after_restore")))
