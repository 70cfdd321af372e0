"""The Python hot path against what users do today, measured side by side in one run.

    /usr/bin/python3 benchmarks/python/bench_generation.py [--segment PATH] [--output FILE]

Cases: a plain Python function call (the baseline), snapbus.generation(), snapbus.check() (the
request guard's normal path), os.stat() of a marker file (the /tmp marker workaround), and one
cffi call into the library (what generation() would cost if it called the C ABI each time).
With --segment (or SNAPBUS_CLI, a `snapbus` whose `publish running` then makes a fresh
segment) generation() reads the mapped word; otherwise it reads the private zero word, which
costs the same instructions. Reports nanoseconds per call: the best of several repeats, as
timeit gives them (its loop included), and net of timeit's own loop (an empty statement timed the
same way), which is what each call costs by itself.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import timeit

import snapbus
from snapbus._native import lib

REPEATS = 7


def plain_function():
    return 0


def per_call_ns(statement, setup_globals) -> float:
    timer = timeit.Timer(statement, globals=setup_globals)
    # autorange() stops once a run takes 0.2 s: TARGET_SECONDS per repeat.
    number, _ = timer.autorange()
    best = min(timer.repeat(repeat=REPEATS, number=number))
    return best / number * 1e9


def make_segment(directory: pathlib.Path) -> pathlib.Path | None:
    executable = os.environ.get("SNAPBUS_CLI")
    cli = pathlib.Path(executable) if executable else None
    if cli is None or not os.access(cli, os.X_OK):
        return None
    segment = directory / "bench.seg"
    subprocess.run([str(cli), "publish", "running", "--segment", str(segment)], check=True, timeout=30)
    return segment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segment", type=pathlib.Path)
    parser.add_argument("--output", type=pathlib.Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="snapbus-bench-") as tmp:
        segment = args.segment or make_segment(pathlib.Path(tmp))
        subscriber = None
        if segment is not None:
            snapbus.start(segment, name="python-bench", wait_for_ack=False)
            subscriber = snapbus.Subscriber.open(segment, "python-bench-cffi", wait_for_ack=False)
        marker = pathlib.Path(tmp, "restored.marker")
        marker.write_text("1")
        env = {"plain_function": plain_function, "generation": snapbus.generation, "check": snapbus.check,
               "stat": os.stat, "marker": str(marker), "lib": lib,
               "handle": subscriber._handle if subscriber else None}
        cffi_statement = "lib.snapbus_subscriber_generation(handle)" if subscriber else "lib.snapbus_abi_version()"
        cases = {
            "plain_python_function_call": "plain_function()",
            "snapbus_generation": "generation()",
            "snapbus_check_guard": "check()",
            "os_stat_marker_file": "stat(marker)",
            "one_cffi_call": cffi_statement,
        }
        results = {name: per_call_ns(statement, env) for name, statement in cases.items()}
        loop_alone = per_call_ns("pass", env)
        if subscriber is not None:
            subscriber.close()
        snapbus.stop()

    baseline = results["plain_python_function_call"]
    net = {name: value - loop_alone for name, value in results.items()}
    report = {
        "benchmark": "python hot path",
        "command": "/usr/bin/python3 benchmarks/python/bench_generation.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "segment_attached": segment is not None,
        "cffi_call": cffi_statement,
        "method": f"timeit, best of {REPEATS} repeats, ns per call",
        "ns_per_call": {name: round(value, 2) for name, value in results.items()},
        "ratio_to_plain_call": {name: round(value / baseline, 2) for name, value in results.items()},
        "timeit_loop_ns": round(loop_alone, 2),
        "ratio_to_plain_call_net_of_loop": {name: round(value / net["plain_python_function_call"], 2)
                                            for name, value in net.items()},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
