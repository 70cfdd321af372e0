"""Zero-code mode: put this directory first on PYTHONPATH and set SNAPBUS_ZERO_CODE=1, and every
Python process starts snapbus's watcher and snapshot_restore_py bridge before the user's code
runs. `python3 -m snapbus startup-dir` prints this directory.

The sitecustomize this one shadows (Debian's, the user's, another layer's) still runs: the next
one on sys.path is executed first, so whatever it sets up is in place when snapbus starts.
"""
import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _run_shadowed_sitecustomize() -> None:
    others = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def _start_snapbus() -> None:
    try:
        import snapbus._zero_code as zero_code
    except ImportError:
        # Only this directory is on the path: the package is two levels up.
        sys.path.append(os.path.dirname(os.path.dirname(_HERE)))
        import snapbus._zero_code as zero_code
    zero_code.start_if_enabled()


try:
    _run_shadowed_sitecustomize()
finally:
    _start_snapbus()
