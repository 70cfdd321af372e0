"""The SnapbusError family: one class per snapbus_status, each also the matching builtin.

    try:
        sub = Subscriber.open("/tmp/app.seg")
    except FileNotFoundError:          # also snapbus.SegmentNotFound
        ...
"""


class SnapbusError(Exception):
    """Base of every error snapbus raises.

    ``status`` is the C library's snapbus_status value (0 for errors raised by Python code),
    ``status_name`` its short name ("not_found", ...), ``errno`` the errno of a failed system
    call or 0, ``message`` the library's sentence.
    """

    status = 0
    status_name = "error"

    def __init__(self, message: str, *, errno: int = 0):
        super().__init__(message)
        self.message = message
        self.errno = errno

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        # Pickled as made (multiprocessing sends exceptions back this way): message and errno, not
        # OSError's (errno, strerror) reading of the args.
        return (_rebuild, (type(self), self.message, self.errno))


class SegmentNotFound(SnapbusError, FileNotFoundError):
    """No segment at the path: no publisher has created one (yet)."""

    status, status_name = 1, "not_found"


class PermissionDenied(SnapbusError, PermissionError):
    """The segment belongs to someone else, or its mode lets others in."""

    status, status_name = 2, "permission_denied"


class InvalidSegment(SnapbusError, ValueError):
    """The file is not a snapbus segment, is truncated, or has inconsistent geometry."""

    status, status_name = 3, "invalid_segment"


class VersionMismatch(InvalidSegment):
    """A snapbus segment of another layout version."""

    status, status_name = 4, "version_mismatch"


class Busy(SnapbusError, BlockingIOError):
    """Another live publisher owns the segment."""

    status, status_name = 5, "busy"


class NoFreeSlot(SnapbusError, OSError):
    """Every subscriber slot is held by a live process."""

    status, status_name = 6, "no_free_slot"


class Timeout(SnapbusError, TimeoutError):
    """A deadline passed."""

    status, status_name = 7, "timed_out"


class InvalidArgument(SnapbusError, ValueError):
    """A precondition of the call was broken."""

    status, status_name = 8, "invalid_argument"


class SystemCallError(SnapbusError, OSError):
    """A system call failed; ``errno`` says which error."""

    status, status_name = 9, "system"


class Interrupted(SnapbusError, InterruptedError):
    """A wait was cut short by a signal or a wake-up before its deadline."""

    status, status_name = 10, "interrupted"


class Closed(SnapbusError, RuntimeError):
    """The subscriber was closed or stopped."""

    status, status_name = 11, "closed"


class InternalError(SnapbusError, RuntimeError):
    """A bug in snapbus: the library caught an unexpected C++ exception."""

    status, status_name = 99, "internal"


class NotStarted(SnapbusError, RuntimeError):
    """The call needs the watcher thread: call snapbus.start() first."""


BY_STATUS = {cls.status: cls for cls in (
    SegmentNotFound, PermissionDenied, InvalidSegment, VersionMismatch, Busy, NoFreeSlot, Timeout,
    InvalidArgument, SystemCallError, Interrupted, Closed, InternalError)}


def _rebuild(cls, message: str, errno: int) -> SnapbusError:
    return cls(message, errno=errno)


def error_for_status(status: int, message: str, errno: int = 0) -> SnapbusError:
    """The exception for a nonzero snapbus_status; unknown values become InternalError."""
    cls = BY_STATUS.get(status)
    if cls is None:
        return InternalError(f"unknown snapbus status {status}: {message}", errno=errno)
    return cls(message, errno=errno)
