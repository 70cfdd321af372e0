"""Zero-code start, from either way a process can reach it before the user's code runs:

- the startup sitecustomize: snapbus/_startup first on PYTHONPATH (/opt/bootstrap does that for the
  handler script it starts, such as run.sh), or the layer's copy of it, python/sitecustomize.py,
  for a run.sh that replaces PYTHONPATH with /opt/python:...;
- the layer's snapbus-zero-code.pth, which a managed Python runtime runs: its bootstrap.py calls
  site.addsitedir("/opt/python") when PYTHONPATH is unset, and a .pth file's import line runs there,
  before awslambdaric imports the handler.

Both call start_if_enabled(), and starting twice is harmless.
"""
from . import _config


def start_if_enabled() -> None:
    """With SNAPBUS_ZERO_CODE on: the snapshot_restore_py bridge now, the watcher at the process's
    first hook registration. A malformed value raises InvalidArgument (a ValueError) naming the variable."""
    if _config.flag(_config.ENV_ZERO_CODE, _config.DEFAULT_ZERO_CODE):
        import snapbus

        snapbus._start_zero_code()
