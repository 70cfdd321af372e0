"""The client process of one scenario of tests/contract/client_scenarios.json.

Registers the scenario's hooks through the public decorators (name=, order=) in table order;
each appends its name to --log when called and raises RuntimeError(fails) when the table says
so. Then attaches (SNAPBUS_SEGMENT), prints "READY <pid>" and lives until killed or --lifetime.
"""
import argparse
import json
import os
import time

import snapbus

REGISTER = {"before-snapshot": snapbus.before_snapshot, "after-restore": snapbus.after_restore,
            "shutdown": snapbus.on_shutdown}


def make_hook(log_path: str, name: str, fails: str | None):
    def hook():
        with open(log_path, "a") as log:
            log.write(name + "\n")
        if fails is not None:
            raise RuntimeError(fails)

    return hook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table", required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--lifetime", type=float, default=120.0)
    args = parser.parse_args()

    with open(args.table) as table:
        scenario = next(s for s in json.load(table)["scenarios"] if s["name"] == args.scenario)
    for hook in scenario["hooks"]:
        REGISTER[hook["phase"]](make_hook(args.log, hook["name"], hook.get("fails")), name=hook["name"],
                                order=hook.get("order", 0))
    snapbus.start(name="scenario")
    print(f"READY {os.getpid()}", flush=True)
    time.sleep(args.lifetime)


if __name__ == "__main__":
    main()
