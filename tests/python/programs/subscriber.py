"""A subscriber process for the tests.

Registers --hooks hooks per phase (h1, h2, ...) that append one JSON line per call to --log,
optionally forks --fork workers after attaching, and in every process prints "READY <pid>" and
lives until it has handled the shutdown phase (or --lifetime seconds pass).
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

import snapbus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", required=True)
    parser.add_argument("--hooks", type=int, default=2)
    parser.add_argument("--fail", default="", help="the hook name that raises ValueError")
    parser.add_argument("--fail-phase", default="", help="only in this phase (default: every phase)")
    parser.add_argument("--fork", type=int, default=0)
    parser.add_argument("--hook-sleep", type=float, default=0.0)
    parser.add_argument("--guard-threads", type=int, default=0,
                        help="threads calling snapbus.check() in a loop, racing the watcher")
    parser.add_argument("--lifetime", type=float, default=60.0)
    parser.add_argument("--exit-on-sigterm", action="store_true",
                        help="exit normally on SIGTERM (as Lambda's graceful-shutdown examples do), so the "
                             "shutdown hooks still due run at exit")
    parser.add_argument("--may-start-detached", action="store_true",
                        help="carry on without a slot (none free yet); the watcher attaches later")
    args = parser.parse_args()
    if args.exit_on_sigterm:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def record(phase: str, name: str) -> None:
        line = json.dumps({"pid": os.getpid(), "phase": phase, "hook": name, "generation": snapbus.generation(),
                           "thread": threading.current_thread().name, "t_ns": time.monotonic_ns()})
        with open(args.log, "a") as log:  # O_APPEND: whole lines even with many writers
            log.write(line + "\n")

    def make_hook(phase: str, name: str):
        def hook():
            if args.hook_sleep:
                time.sleep(args.hook_sleep)
            record(phase, name)
            if name == args.fail and args.fail_phase in ("", phase):
                raise ValueError(f"{name} cannot reach the database")
        return hook

    # Registered first, so it runs last of the (last-first) shutdown hooks.
    shut_down = threading.Event()
    snapbus.on_shutdown(shut_down.set, name="exit")
    for index in range(1, args.hooks + 1):
        name = f"h{index}"
        snapbus.before_snapshot(make_hook("before-snapshot", name), name=name)
        snapbus.after_restore(make_hook("after-restore", name), name=name)
        snapbus.on_shutdown(make_hook("shutdown", name), name=name)
    if not snapbus.state().attached and not args.may_start_detached:
        raise SystemExit("subscriber: not attached to " + snapbus.segment_path())

    for _ in range(args.fork):
        if os.fork() == 0:
            break

    deadline = time.monotonic() + args.lifetime
    for _ in range(args.guard_threads):
        threading.Thread(target=guard_loop, args=(deadline,), daemon=True).start()
    os.write(1, f"READY {os.getpid()}\n".encode())  # one write: forked siblings share the pipe
    # Exit after the shutdown hooks ran; the atexit handler lets the watcher finish its ack.
    shut_down.wait(max(0.0, deadline - time.monotonic()))


def guard_loop(deadline: float) -> None:
    while time.monotonic() < deadline:
        snapbus.check()


if __name__ == "__main__":
    main()
