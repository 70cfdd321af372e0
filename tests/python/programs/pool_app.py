"""An app that uses a multiprocessing pool (fork) and subscribes to the bus.

Its pool workers inherit the subscription, so each claims its own slot; when the pool is closed
they leave through os._exit, skipping destructors and atexit. Prints "POOL DONE <n>" once the
pool is gone, then lives until the shutdown phase (or --lifetime seconds).
"""
import argparse
import json
import multiprocessing
import os
import threading

import snapbus


def square(value: int) -> int:
    return value * value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", required=True)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--lifetime", type=float, default=60.0)
    args = parser.parse_args()

    @snapbus.after_restore
    def reseed() -> None:
        with open(args.log, "a") as log:
            log.write(json.dumps({"pid": os.getpid(), "phase": "after-restore",
                                  "generation": snapbus.generation()}) + "\n")

    done = threading.Event()
    snapbus.on_shutdown(done.set, name="exit")
    if not snapbus.state().attached:
        raise SystemExit("pool_app: not attached to " + snapbus.segment_path())
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        total = sum(pool.map(square, range(32)))
    # The with-block terminated the workers: they are gone, their slots still claimed.
    os.write(1, f"POOL DONE {total}\n".encode())
    done.wait(args.lifetime)


if __name__ == "__main__":
    main()
