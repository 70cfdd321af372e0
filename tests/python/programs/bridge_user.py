"""A Lambda-style user script for the bridge tests: registers hooks only through
snapshot_restore_py and appends one JSON line per hook call to the log given as argv[1].

With --import-snapbus it starts snapbus itself; without, it never mentions snapbus (zero-code
mode must do the rest). One more hook of each kind is registered after snapbus started, to show
that late registrations run too. Then it lives until --lifetime passes.
"""
import argparse
import json
import os
import sys
import time

from snapshot_restore_py import register_after_restore, register_before_snapshot

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("log")
parser.add_argument("--import-snapbus", action="store_true")
parser.add_argument("--lifetime", type=float, default=60.0)
args = parser.parse_args()


def record(phase, name, *extra, **options):
    with open(args.log, "a") as log:
        log.write(json.dumps({"pid": os.getpid(), "phase": phase, "hook": name, "args": list(extra),
                              "kwargs": options}) + "\n")


register_before_snapshot(record, "before-snapshot", "b1")
register_before_snapshot(record, "before-snapshot", "b2", 42, colour="red")
register_after_restore(record, "after-restore", "a1")


@register_after_restore
def a2():
    record("after-restore", "a2")


if args.import_snapbus:
    import snapbus

    snapbus.start()
    assert snapbus.state().attached

# Registered after snapbus started (by this script or by sitecustomize).
register_before_snapshot(record, "before-snapshot", "b3")
register_after_restore(record, "after-restore", "a3")
print(f"READY {os.getpid()}", flush=True)
print(f"SNAPBUS_LOADED {'snapbus' in sys.modules}", flush=True)
time.sleep(args.lifetime)
