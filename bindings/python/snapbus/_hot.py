"""The hot path: generation() reads the mapped 64-bit word through a memoryview made once.

No cffi call per check. Before a segment is attached the view reads a private zero word; attach()
and detach() swap the module global in one assignment, which is atomic under the GIL. x86-64 and
arm64 read an aligned 8-byte word in one load, so a reader never sees a torn generation.
"""
from array import array

_view = memoryview(array("Q", [0]))
_mapped = False
# The generation this process handled last. The mapped word reads 0 after that only when the
# segment was truncated under us (its pages read as zeros until the watcher notices and detaches):
# a process restored once must not say 0 meanwhile.
_floor = 0


def generation() -> int:
    """Restores this process's memory image has been through; 0 without a segment.

    Costs about one Python function call: no library call, no system call, no lock.
    """
    try:
        return _view[0] or _floor
    except ValueError:
        # detach() released the view this thread had already loaded: read the replacement.
        return _view[0] or _floor


def handled(generation_handled: int) -> None:
    """Called by the client whenever its handled generation changes: generation()'s floor."""
    global _floor
    _floor = generation_handled


def attach(generation_buffer) -> None:
    """Points generation() at the mapped word behind a cffi buffer."""
    global _view, _mapped
    _view = memoryview(generation_buffer).cast("Q")
    _mapped = True


def detach(handled_generation: int) -> None:
    """Points generation() back at a private word holding the generation this process handled,
    then releases the mapped view, so no thread can read the mapping after the segment is unmapped.
    The handled one, not the mapped word: a segment truncated under us reads as zeros, and a
    process restored once must not say 0."""
    global _view, _mapped
    if not _mapped:
        return
    old = _view
    _view = memoryview(array("Q", [handled_generation]))
    _mapped = False
    old.release()
