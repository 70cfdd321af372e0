# snapbus zero-code sitecustomize (this line marks every copy of this file; see _is_snapbus_copy)
"""Zero-code mode: set SNAPBUS_ZERO_CODE=1, and every Python process that loads this sitecustomize
starts snapbus's watcher and snapshot_restore_py bridge before the user's code runs. Without the
variable (or with it off) it imports nothing of snapbus.

The same file sits in two places:
- snapbus/_startup/, the startup directory to put first on PYTHONPATH (`python3 -m snapbus
  startup-dir` prints it);
- in the Lambda layer, /opt/python/sitecustomize.py beside the package. PYTHONPATH entries are no
  site directories, so the layer's .pth never runs for a handler script, and a run.sh that sets
  PYTHONPATH=/opt/python:... (as some of LWA's examples do) keeps only this one.

The sitecustomize this one shadows (Debian's, the user's, another layer's) still runs, first:
whatever it sets up is in place when snapbus starts. Another copy of this file is skipped, so two
of them on sys.path neither run each other in turn nor start snapbus twice.
"""
import os
import sys

_MARKER = b"# snapbus zero-code sitecustomize"
_HERE = os.path.dirname(os.path.realpath(__file__))
# The directory that holds the snapbus package: two levels up from snapbus/_startup, else this one.
_PACKAGE_PARENT = (os.path.dirname(os.path.dirname(_HERE)) if os.path.basename(_HERE) == "_startup" else _HERE)


def _is_snapbus_copy(origin: str) -> bool:
    try:
        with open(origin, "rb") as source:
            return source.read(len(_MARKER)) == _MARKER
    except OSError:
        return False


def _path_finder():
    # The import system's own path finder (importlib.machinery.PathFinder), found without importing
    # importlib, whose import costs a few milliseconds in every Python process, zero-code mode or not.
    for finder in sys.meta_path:
        if getattr(finder, "__name__", "") == "PathFinder" and hasattr(finder, "find_spec"):
            return finder
    import importlib.machinery

    return importlib.machinery.PathFinder


def _run_shadowed_sitecustomize() -> None:
    # The first sitecustomize on the path that is no snapbus copy (this file is one of those).
    others = list(sys.path)
    finder = _path_finder()
    while True:
        spec = finder.find_spec("sitecustomize", others)
        if spec is None or spec.loader is None or spec.origin is None:
            return
        if not _is_snapbus_copy(spec.origin):
            break
        found_in = os.path.realpath(os.path.dirname(spec.origin))
        others = [entry for entry in others if os.path.realpath(entry or os.curdir) != found_in]
    # What importlib.util.module_from_spec does, for a source file, without importing it.
    module = type(sys)(spec.name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    spec.loader.exec_module(module)


def _zero_code_requested() -> bool:
    # As the layer's .pth reads it: any value but these imports snapbus, which names a malformed one.
    return os.environ.get("SNAPBUS_ZERO_CODE", "").strip().lower() not in ("", "0", "false", "no", "off")


def _start_snapbus() -> None:
    try:
        import snapbus._zero_code as zero_code
    except ImportError:
        # Site runs before Python puts the script's directory (or, for -m, the working one) on the
        # path, so look where the rest may be: the package two levels up from the startup directory,
        # and cffi in the function's task root (Lambda's Python has none; a run.sh that sets
        # PYTHONPATH=/opt/python:... drops the task root /opt/bootstrap added).
        for entry in (_PACKAGE_PARENT, os.environ.get("LAMBDA_TASK_ROOT")):
            if entry and entry not in sys.path:
                sys.path.append(entry)
        import snapbus._zero_code as zero_code
    zero_code.start_if_enabled()


try:
    _run_shadowed_sitecustomize()
finally:
    if _zero_code_requested():
        _start_snapbus()
