#!/usr/bin/python3
"""The CPU each process spends per request along the adapter's paths and nginx's, user and kernel.

instructions.py counts user space only; the kernel's work for the sockets is most of a loopback
request's cost on a VM (a system call costs about 1.4 us here), and a front end's wall-clock latency
is what its processes run, user and kernel, plus the wake-ups between them. This reads each process's
run time from the scheduler (/proc/PID/task/*/schedstat, in ns) and its user and system split
(/proc/PID/stat, in clock ticks) over a run of keep-alive GET /hello, for the front ends of
front_ends.py, run as they are (not under valgrind):

  adapter path   the emulator, the adapter (the layer's binary when SNAPBUS_BENCH_LAYER_BINARY names
                 it), the app behind it
  trivial path   the emulator, the trivial runtime
  nginx path     nginx, the app behind it; nginx_at_once: nginx answering itself; direct: the app alone

The adapter's own share is adapter - trivial runtime (both run the same Runtime API client), and its
mirror in nginx is nginx - nginx_at_once (both read the client's request and write its answer): what
putting the app behind each costs the front end itself. The app's own turn is in the adapter's wall-clock
figure and not in nginx's (adapter_bench.cpp says why); app_behind_adapter against direct shows what
the adapter's longer request costs it.

  benchmarks/cpu_time.py [--requests N] [--runs N] [--one-core] [--output results.json]   # run.sh cpu_time

--one-core runs every process on CPU 0, as adapter_bench's one_core:1: each process's own work without
the wake-up of an idle vCPU. Needs the release preset built and nginx (Debian's nginx-light). Takes
about a minute a run, three runs by default.
"""
import datetime
import json
import os
import statistics
import tempfile
from pathlib import Path

from front_ends import (Marked, Processes, check_built, drive, results_arguments, run_context, start_adapter,
                        start_app, start_nginx, start_trivial)

WARM_UP = 500
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def stat_of(pid):
    """/proc/PID/stat's fields after the command name (which may hold spaces): state, ppid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_of(pid):
    """(ns run, user s, system s) of every thread of `pid` so far."""
    run = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run += int((task / "schedstat").read_text().split()[0])
        except OSError:  # a thread that has just ended
            continue
    fields = stat_of(pid)
    return run, int(fields[11]) * TICK_S, int(fields[12]) * TICK_S


def parent_of(pid):
    return int(stat_of(pid)[1])


def measured_cpu(port, pids, requests):
    """CPU per request (us: total, user, system) of each of `pids` (name -> pid) over `requests` to `port`."""
    drive(port, WARM_UP)
    before = {name: cpu_of(pid) for name, pid in pids.items()}
    drive(port, requests)
    after = {name: cpu_of(pid) for name, pid in pids.items()}
    return {name: {"total": (after[name][0] - before[name][0]) / 1e3 / requests,
                   "user": (after[name][1] - before[name][1]) * 1e6 / requests,
                   "system": (after[name][2] - before[name][2]) * 1e6 / requests} for name in pids}


def measure(directory, requests):
    marked = Marked()
    processes = Processes(directory)
    cpu = {}
    try:
        port = start_adapter(directory, processes, marked)
        adapter = marked.pid("adapter")
        cpu |= measured_cpu(port, {"adapter": adapter, "app_behind_adapter": marked.pid("app_behind_adapter"),
                                   "emulator_behind_adapter": parent_of(adapter)}, requests)
        port = start_trivial(directory, processes, marked)
        trivial = marked.pid("trivial")
        cpu |= measured_cpu(port, {"trivial": trivial, "emulator_behind_trivial": parent_of(trivial)}, requests)
        # One app, measured alone and then behind nginx.
        app_port = start_app(processes, marked, "app")
        app = marked.pid("app")
        cpu |= measured_cpu(app_port, {"app_direct": app}, requests)
        port = start_nginx(directory, processes, marked, "nginx", app_port)
        cpu |= measured_cpu(port, {"nginx": marked.pid("nginx"), "app_behind_nginx": app}, requests)
        port = start_nginx(directory, processes, marked, "nginx_at_once")
        cpu |= measured_cpu(port, {"nginx_at_once": marked.pid("nginx_at_once")}, requests)
    finally:
        processes.stop()
    return cpu


def main():
    parser = results_arguments(__doc__.split("\n\n")[0], 20000, "measured")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs, each with processes of its own; each figure is their median (default 3)")
    parser.add_argument("--one-core", action="store_true", help="run every process on CPU 0")
    args = parser.parse_args()
    check_built()
    if args.one_core:
        os.sched_setaffinity(0, {0})  # the processes started from here inherit it
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="snapbus-cpu-time-") as temp:
            runs.append(measure(Path(temp), args.requests))
    # Figure by figure: one run draws one placement of the processes on the vCPUs, and another hour of the VM.
    cpu = {name: {part: statistics.median(run[name][part] for run in runs) for part in runs[0][name]}
           for name in runs[0]}
    own = {part: cpu["adapter"][part] - cpu["trivial"][part] for part in ("total", "user", "system")}
    increment = {part: cpu["nginx"][part] - cpu["nginx_at_once"][part] for part in ("total", "user", "system")}
    report = {"context": run_context(started, args.commit, requests=args.requests, runs=args.runs,
                                     one_core=args.one_core,
                                     load_average=os.getloadavg()[0]),
              "cpu_us_per_request": cpu, "adapter_own": own, "nginx_increment": increment,
              "adapter_own_x_nginx_increment": own["total"] / increment["total"],
              "adapter_own_x_nginx_increment_by_run": [
                  (run["adapter"]["total"] - run["trivial"]["total"])
                  / (run["nginx"]["total"] - run["nginx_at_once"]["total"])
                  for run in runs],
              "adapter_own_x_nginx": own["total"] / cpu["nginx"]["total"],
              "app_extra_behind_adapter": cpu["app_behind_adapter"]["total"] - cpu["app_direct"]["total"]}
    print(f"{'process':26s} {'CPU us/request':>15s} {'user':>8s} {'system':>8s}")
    for name, value in cpu.items():
        print(f"{name:26s} {value['total']:15.1f} {value['user']:8.1f} {value['system']:8.1f}")
    print(f"the adapter's own share (adapter - trivial runtime): {own['total']:.1f} us (user {own['user']:.1f}, "
          f"system {own['system']:.1f})")
    print(f"nginx's increment (nginx - nginx answering at once): {increment['total']:.1f} us (user "
          f"{increment['user']:.1f}, system {increment['system']:.1f}); the adapter's own share is "
          f"{report['adapter_own_x_nginx_increment']:.2f}x that (runs: "
          f"{', '.join(f'{ratio:.2f}' for ratio in report['adapter_own_x_nginx_increment_by_run'])}), "
          f"{report['adapter_own_x_nginx']:.2f}x nginx's whole")
    print(f"the app behind the adapter, beyond the app alone: {report['app_extra_behind_adapter']:.1f} us")
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
