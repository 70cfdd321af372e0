"""python3 -m snapbus: small helpers for wrappers and people.

    python3 -m snapbus startup-dir   # the directory to put first on PYTHONPATH for zero-code mode
    python3 -m snapbus state         # this process's view of the segment, as JSON (it holds a
                                     # slot for that moment, never waited for)
"""
import argparse
import dataclasses
import enum
import json
import os

import snapbus


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m snapbus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("startup-dir", "state"))
    args = parser.parse_args()
    if args.command == "startup-dir":
        print(os.path.join(os.path.dirname(os.path.abspath(snapbus.__file__)), "_startup"))
        return 0
    try:
        subscriber = snapbus.Subscriber.open(name="python:state", wait_for_ack=False)
    except snapbus.SnapbusError as error:
        parser.exit(1, f"snapbus: {error}\n")
    try:
        state = subscriber.read_state()
    finally:
        subscriber.close()
    print(json.dumps({key: _json_value(value) for key, value in dataclasses.asdict(state).items()}, indent=2))
    return 0


def _json_value(value):
    # Enums by name, as `snapbus status --json` gives them: "after-restore", "snap-start".
    if isinstance(value, enum.Enum):
        return value.name.lower().replace("_", "-")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
