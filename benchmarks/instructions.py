#!/usr/bin/python3
"""The adapter's own work per invocation in instructions, against nginx's per proxied request.

Wall-clock latency on a small VM moves with the machine (which vCPU is woken, what a system call
costs that day); the user-space instructions a process executes per request do not. This counts them
with valgrind's callgrind, the same build and inputs giving the same count, for the front ends of
front_ends.py, each driven by a keep-alive client sending GET /hello:

  adapter   `snapbus` as the extension in web mode (under `snapbus emulate`): one invocation. The
            layer's binary, what Lambda runs, when SNAPBUS_BENCH_LAYER_BINARY names it (run.sh does,
            when build/layer exists); else the release build's
  trivial   `adapter_bench --trivial-runtime` under `snapbus emulate`: the same Runtime API client,
            answering each event at once without an app
  nginx     nginx (one process, keep-alive upstream), proxying to the app
  nginx_at_once  nginx answering GET /hello itself: nginx's counterpart of the trivial runtime

The adapter's own share is adapter - trivial: the event made into the app's request, the exchange
with the app, the answer made into the result. nginx's whole count is set against it, and so is its
increment, nginx - nginx_at_once: what proxying adds to answering, the mirror of the adapter's own
share. Only user space is counted (cpu_time.py reads the kernel's time too).

A streamed answer is counted per chunk: the adapter in response_stream mode (adapter_streamed) and
nginx with proxy_buffering off (nginx_streamed) each relay GET /stream (eight chunks, as the app writes
them) and GET /hello (one body of known length) from the same process; the difference, over eight, is
what one more chunk costs each: read from the app, parsed, framed and written on, to the Runtime API or
to the client.

The app is counted too, behind each front end (app_behind_adapter, app_behind_nginx): the adapter's
request carries what Lambda Web Adapter's does (x-amzn-request-context, x-amzn-lambda-context, the
event's headers; about 1 KB), nginx's only the client's few headers, and the app's parser reads every
byte. The difference is work the adapter's path adds in the app, which the wall-clock benchmark
(adapter_bench) counts against the adapter and this count would otherwise not show. nginx is counted
a second time (nginx_same_request) with its client sending the fields the app receives behind the
adapter (read back from the app through the adapter), so that nginx parses and forwards the same
bytes and the app parses the same request behind both.

On this VM a system call costs about as much as a thousand instructions or more (a failed recv
took 1.2-1.4 µs on 2026-12-07), so the count of instructions is only half of what each front end
costs. When strace is installed, a second pass counts the system calls each of the same processes
makes per request (strace -c, attached after the warm-up, the processes run as they are, not under
valgrind), and the report gives them beside the instructions, with the same subtractions.

  benchmarks/instructions.py [--requests N] [--output results.json]   # benchmarks/run.sh instructions

Needs the release preset built, valgrind and nginx (Debian's nginx-light); strace for the system
calls. Takes about six minutes.
"""
import datetime
import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from front_ends import (Marked, Processes, app_request_behind_adapter, check_built, drive, fail, pid_with,
                        results_arguments, run_context, start_adapter, start_app, start_nginx, start_trivial)

WARM_UP = 300
# adapter_bench's GET /stream: eight 64-byte chunks, 2 ms apart (kChunks, kChunkGap), so that a request
# takes 14 ms of waiting and fewer of them are counted.
STREAM_CHUNKS = 8
STREAMED_REQUESTS = 300


class Callgrind:
    """Runs each process under valgrind's callgrind, writing to a file named by its role, by which pid()
    finds it."""

    def __init__(self, directory):
        self.directory = directory
        self.dumps = {}  # role -> how many dumps its process has written

    def out_file(self, role):
        return self.directory / f"{role}.callgrind"

    def argv(self, role, program):
        return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out_file(role)}", *program]

    def pid(self, role):
        return pid_with(str(self.out_file(role)), "cmdline", f"no process writes {self.out_file(role)}")

    def dumped_count(self, role):
        """The count in the role's latest dump (callgrind numbers them from 1, one per callgrind_control -d)."""
        self.dumps[role] = self.dumps.get(role, 0) + 1
        dump = Path(f"{self.out_file(role)}.{self.dumps[role]}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if dump.exists():
                match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(errors="replace"), re.M)
                if match:
                    return int(match.group(1))
            time.sleep(0.2)
        fail(f"callgrind wrote no dump at {dump}")


def measured_instructions(callgrind, port, roles, requests, fields=(), path="/hello"):
    """Instructions each process of `roles` executes for `requests` requests for `path` sent to `port`
    (with `fields`, as drive sends them), after a warm-up: role -> count."""
    drive(port, WARM_UP, fields, path)
    pids = [callgrind.pid(role) for role in roles]
    for pid in pids:
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True, timeout=60)
    drive(port, requests, fields, path)
    for pid in pids:
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True, timeout=60)
    return {role: callgrind.dumped_count(role) for role in roles}


def strace_summary(path):
    """System call -> calls, from the table `strace -c -o path` writes when it detaches."""
    calls = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        # "% time  seconds  usecs/call  calls  [errors]  syscall"; the errors column is empty for most.
        if len(fields) < 5 or not fields[0][0].isdigit() or fields[-1] == "total":
            continue
        calls[fields[-1]] = int(fields[3])
    return calls


class SystemCallsNotCounted(Exception):
    """The system-call pass could not run here; the instructions are reported without it."""


def tracer_attached(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in status.splitlines())


def measured_system_calls(directory, marked, port, roles, requests):
    """The system calls each process of `roles` makes (all its threads) for `requests` requests sent
    to `port`, after a warm-up: role -> {system call: calls}."""
    drive(port, WARM_UP)
    tracers = []
    for role in roles:
        pid = marked.pid(role)
        out = directory / f"{role}.strace"
        tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out), "-p", str(pid)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        tracers.append((role, out, tracer))
        deadline = time.monotonic() + 30
        while not tracer_attached(pid):
            if tracer.poll() is not None or time.monotonic() > deadline:
                for _, _, started in tracers:
                    started.kill()
                    started.wait()
                raise SystemCallsNotCounted(f"strace could not attach to {role} (pid {pid}); is ptrace allowed here?")
            time.sleep(0.05)
    drive(port, requests)
    counts = {}
    for role, out, tracer in tracers:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=60)
        counts[role] = strace_summary(out)
    return counts


def measure_system_calls(directory, requests):
    """measured_system_calls for the adapter, the trivial runtime, nginx and nginx answering at once."""
    counts = {}
    processes = Processes(directory)
    marked = Marked()
    try:
        port = start_adapter(directory, processes, marked)
        counts |= measured_system_calls(directory, marked, port, ["adapter"], requests)
        port = start_trivial(directory, processes, marked)
        counts |= measured_system_calls(directory, marked, port, ["trivial"], requests)
        app_port = start_app(processes, marked, "app_behind_nginx")
        port = start_nginx(directory, processes, marked, "nginx", app_port)
        counts |= measured_system_calls(directory, marked, port, ["nginx"], requests)
        port = start_nginx(directory, processes, marked, "nginx_at_once")
        counts |= measured_system_calls(directory, marked, port, ["nginx_at_once"], requests)
    finally:
        processes.stop()
    return counts


def system_call_report(counts, requests):
    """Per request: each process's total and its calls by name, and the subtractions the instructions get."""
    by_name = {role: {name: calls / requests for name, calls in sorted(calls.items(), key=lambda item: -item[1])}
               for role, calls in counts.items()}
    total = {role: sum(calls.values()) / requests for role, calls in counts.items()}
    return {"system_calls_per_request": total, "system_calls_by_name": by_name,
            "adapter_own_system_calls": total["adapter"] - total["trivial"],
            "nginx_increment_system_calls": total["nginx"] - total["nginx_at_once"]}


def measure(directory, requests):
    counts = {}
    processes = Processes(directory)
    callgrind = Callgrind(directory)
    try:
        port = start_adapter(directory, processes, callgrind)
        counts |= measured_instructions(callgrind, port, ["adapter", "app_behind_adapter"], requests)
        app_request = app_request_behind_adapter(port)
        port = start_trivial(directory, processes, callgrind)
        counts |= measured_instructions(callgrind, port, ["trivial"], requests)
        app_port = start_app(processes, callgrind, "app_behind_nginx")
        port = start_nginx(directory, processes, callgrind, "nginx", app_port)
        counts |= measured_instructions(callgrind, port, ["nginx", "app_behind_nginx"], requests)
        port = start_nginx(directory, processes, callgrind, "nginx_at_once")
        counts |= measured_instructions(callgrind, port, ["nginx_at_once"], requests)
        # The same again, the client sending what the app receives behind the adapter: nginx then
        # parses and forwards those bytes, and the app parses the same request on both paths.
        app_port = start_app(processes, callgrind, "app_behind_nginx_same_request")
        port = start_nginx(directory, processes, callgrind, "nginx_same_request", app_port)
        counts |= measured_instructions(callgrind, port, ["nginx_same_request", "app_behind_nginx_same_request"],
                                        requests, app_request)
        streamed = measure_streamed(directory, processes, callgrind, STREAMED_REQUESTS)
    finally:
        processes.stop()
    return counts, streamed


def measure_streamed(directory, processes, callgrind, requests):
    """The adapter in response_stream mode and nginx with proxy_buffering off, each counted over GET
    /stream (STREAM_CHUNKS chunks) and over GET /hello (one body of known length), so that their
    difference is the chunks' relay: role_stream and role_hello -> count."""
    counts = {}
    adapter_port = start_adapter(directory, processes, callgrind, "adapter_streamed", "response_stream")
    app_port = start_app(processes, callgrind, "app_behind_nginx_streamed")
    nginx_port = start_nginx(directory, processes, callgrind, "nginx_streamed", app_port, streaming=True)
    for role, port in (("adapter_streamed", adapter_port), ("nginx_streamed", nginx_port)):
        for path in ("/stream", "/hello"):
            count = measured_instructions(callgrind, port, [role], requests, path=path)[role]
            counts[f"{role}_{path.strip('/')}"] = count
    return counts


def per_chunk(per_request, role):
    """What relaying one more chunk costs `role`: its /stream count less its /hello count, per chunk."""
    return (per_request[f"{role}_stream"] - per_request[f"{role}_hello"]) / STREAM_CHUNKS


def main():
    args = results_arguments(__doc__.split("\n\n")[0], 2000, "counted").parse_args()
    check_built()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        fail("valgrind is missing (apt-get install valgrind)")

    with tempfile.TemporaryDirectory(prefix="snapbus-instructions-") as temp:
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        counts, streamed = measure(Path(temp), args.requests)
        system_calls = None
        if shutil.which("strace") is None:
            print("strace is missing (apt-get install strace): system calls not counted")
        else:
            (Path(temp) / "system-calls").mkdir()
            try:
                system_calls = system_call_report(measure_system_calls(Path(temp) / "system-calls", args.requests),
                                                  args.requests)
            except SystemCallsNotCounted as reason:
                print(f"system calls not counted: {reason}")
    per_request = {path: count / args.requests for path, count in counts.items()}
    per_request |= {path: count / STREAMED_REQUESTS for path, count in streamed.items()}
    own = per_request["adapter"] - per_request["trivial"]
    increment = per_request["nginx"] - per_request["nginx_at_once"]
    report = {"context": run_context(started, args.commit, requests=args.requests),
              "instructions_per_request": per_request,
              "adapter_own": own, "adapter_own_x_nginx": own / per_request["nginx"],
              "adapter_own_x_nginx_same_request": own / per_request["nginx_same_request"],
              "nginx_increment": increment, "adapter_own_x_nginx_increment": own / increment,
              "app_extra_behind_adapter": per_request["app_behind_adapter"] - per_request["app_behind_nginx"],
              "streamed_requests": STREAMED_REQUESTS, "stream_chunks": STREAM_CHUNKS,
              "adapter_per_chunk": per_chunk(per_request, "adapter_streamed"),
              "nginx_per_chunk": per_chunk(per_request, "nginx_streamed")}
    report["adapter_per_chunk_x_nginx"] = report["adapter_per_chunk"] / report["nginx_per_chunk"]
    if system_calls:
        report |= system_calls
    for path, value in per_request.items():
        print(f"{path:30s} {value:10.0f} instructions per request")
    print(f"adapter's own share (adapter - trivial): {own:.0f}, {own / per_request['nginx']:.2f}x nginx's "
          f"(adapter: {report['context']['adapter_binary']})")
    print(f"nginx's increment (nginx - nginx answering at once): {increment:.0f}; the adapter's own share is "
          f"{report['adapter_own_x_nginx_increment']:.2f}x that")
    print(f"the app's work behind the adapter, beyond its work behind nginx: {report['app_extra_behind_adapter']:.0f}")
    print(f"with the app's request the same on both paths: the adapter's own share "
          f"{report['adapter_own_x_nginx_same_request']:.2f}x nginx's ({per_request['nginx_same_request']:.0f})")
    print(f"per streamed chunk (GET /stream less GET /hello, over {STREAM_CHUNKS}): the adapter "
          f"{report['adapter_per_chunk']:.0f}, nginx {report['nginx_per_chunk']:.0f}: "
          f"{report['adapter_per_chunk_x_nginx']:.2f}x")
    if system_calls:
        for path, value in system_calls["system_calls_per_request"].items():
            print(f"{path:30s} {value:10.1f} system calls per request")
        print(f"system calls: the adapter's own share {system_calls['adapter_own_system_calls']:.1f}, nginx's "
              f"increment {system_calls['nginx_increment_system_calls']:.1f}, nginx's whole "
              f"{system_calls['system_calls_per_request']['nginx']:.1f}")
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
