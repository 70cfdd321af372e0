"""Every environment variable the Python package reads, with its default, in one place.

The bus's own variables keep the bus names (bus/include/snapbus/config.h); the C library reads
SNAPBUS_SEGMENT itself. README's table lists the same names and defaults: keep the two in step.
"""
import logging
import os
import sys

from ._errors import InvalidArgument

ENV_SEGMENT = "SNAPBUS_SEGMENT"
"""Segment path (bus variable). Default: the bus default, /tmp/snapbus.seg."""

ENV_NAME = "SNAPBUS_NAME"
"""Subscriber name shown by `snapbus status` (bus variable). Default: python:<script name>."""

ENV_AUTOSTART = "SNAPBUS_AUTOSTART"
"""Start the watcher thread on the first hook registration. Default: on."""
DEFAULT_AUTOSTART = True

ENV_ZERO_CODE = "SNAPBUS_ZERO_CODE"
"""Start the watcher and the snapshot_restore_py bridge in every Python process at start-up
(through the sitecustomize in snapbus/_startup, or its copy in the layer's python/). Default: off."""
DEFAULT_ZERO_CODE = False

ENV_PYTHON_BRIDGE = "SNAPBUS_PYTHON_BRIDGE"
"""Run hooks registered with snapshot_restore_py through snapbus. Default: on."""
DEFAULT_PYTHON_BRIDGE = True

ENV_WAIT_FOR_ACK = "SNAPBUS_WAIT_FOR_ACK"
"""Ask the publisher to wait for this process's acknowledgements. Default: on."""
DEFAULT_WAIT_FOR_ACK = True

ENV_LOG_LEVEL = "SNAPBUS_LOG_LEVEL"
"""If set (DEBUG, INFO, ...), the `snapbus` logger gets a stderr handler at that level. Default:
unset, and the package only logs through whatever logging the application configured."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def flag(name: str, default: bool) -> bool:
    """A boolean variable; a value that is neither true nor false raises InvalidArgument naming it."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidArgument(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def subscriber_name() -> str:
    """SNAPBUS_NAME, else "python:<script>", so `snapbus status` tells the processes apart."""
    explicit = os.environ.get(ENV_NAME)
    if explicit:
        return explicit
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if script == "__main__.py":
        # python -m uvicorn (or gunicorn, ...): the package says more than its __main__.py.
        script = os.path.basename(os.path.dirname(sys.argv[0])) or script
    return f"python:{script or 'python'}"


def log_level() -> int | None:
    """SNAPBUS_LOG_LEVEL as a logging level, None if unset; an unknown name raises InvalidArgument."""
    raw = os.environ.get(ENV_LOG_LEVEL)
    if not raw:
        return None
    level = logging.getLevelName(raw.strip().upper())
    if not isinstance(level, int):
        raise InvalidArgument(f"{ENV_LOG_LEVEL}={raw!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level
