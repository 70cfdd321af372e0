"""Test double of Lambda's snapshot_restore_py: the documented public API, nothing more.

register_* append (func, args, kwargs) and return func, so they work as bare decorators;
get_* return the live lists.
"""
_before_snapshot = []
_after_restore = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return _before_snapshot


def get_after_restore():
    return _after_restore
