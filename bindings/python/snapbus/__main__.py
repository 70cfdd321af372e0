"""python3 -m snapbus: small helpers for wrappers and people.

    python3 -m snapbus startup-dir   # the directory to put first on PYTHONPATH for zero-code mode
    python3 -m snapbus state         # the segment's state, as JSON (read as `snapbus status` reads
                                     # it: no subscriber slot is claimed)
"""
import argparse
import dataclasses
import enum
import json

import snapbus
from snapbus._checked import read_segment_state


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m snapbus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("startup-dir", "state"))
    args = parser.parse_args()
    if args.command == "startup-dir":
        # Reached only by spellings the package's own early answer does not know (`-msnapbus`).
        print(snapbus._startup_dir())
        return 0
    try:
        state = read_segment_state()
    except snapbus.SnapbusError as error:
        parser.exit(1, f"snapbus: {error}\n")
    print(json.dumps({key: _json_value(value) for key, value in dataclasses.asdict(state).items()}, indent=2))
    return 0


def _json_value(value):
    # Enums by name, as `snapbus status --json` gives them: "after-restore", "snap-start".
    if isinstance(value, enum.Enum):
        return value.name.lower().replace("_", "-")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
