#!/usr/bin/python3
"""The adapter's own work per invocation in instructions, against nginx's per proxied request.

Wall-clock latency on a small VM moves with the machine (which vCPU is woken, what a system call
costs that day); the user-space instructions a process executes per request do not. This counts them
with valgrind's callgrind, the same build and inputs giving the same count, for three processes in
front of the same app (`adapter_bench --app`), each driven by a keep-alive client sending GET /hello:

  adapter   `snapbus` as the extension in web mode (under `snapbus emulate`): one invocation. The
            layer's binary, what Lambda runs, when SNAPBUS_BENCH_LAYER_BINARY names it (run.sh does,
            when build/layer exists); else the release build's
  trivial   `adapter_bench --trivial-runtime` under `snapbus emulate`: the same Runtime API client,
            answering each event at once without an app
  nginx     nginx (one process, keep-alive upstream), proxying to the app

The adapter's own share is adapter - trivial: the event made into the app's request, the exchange
with the app, the answer made into the result. nginx's whole count is its share. Only user space is
counted (not the kernel's work for the sockets, which both sides have).

The app is counted too, behind each front end (app_behind_adapter, app_behind_nginx): the adapter's
request carries what Lambda Web Adapter's does (x-amzn-request-context, x-amzn-lambda-context, the
event's headers; about 1 KB), nginx's only the client's few headers, and the app's parser reads every
byte. The difference is work the adapter's path adds in the app, which the wall-clock benchmark
(adapter_bench) counts against the adapter and this count would otherwise not show. nginx is counted
a second time (nginx_same_request) with its client sending the fields the app receives behind the
adapter (read back from the app through the adapter), so that nginx parses and forwards the same
bytes and the app parses the same request behind both.

  benchmarks/instructions.py [--requests N] [--output results.json]   # benchmarks/run.sh instructions

Needs the release preset built, valgrind and nginx (Debian's nginx-light). Takes about two minutes.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "build" / "release"
SNAPBUS = RELEASE / "cli" / "snapbus"
BENCH = RELEASE / "benchmarks" / "adapter_bench"
NGINX = Path("/usr/sbin/nginx")
LAYER_BINARY_VARIABLE = "SNAPBUS_BENCH_LAYER_BINARY"
WARM_UP = 300
START_TIMEOUT_S = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, what, log):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"instructions.py: {what} did not listen on {port} within {START_TIMEOUT_S} s; see {log}")


def callgrind(out_file, program):
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *program]


def pid_of(marker):
    """The process whose command line holds `marker` (valgrind's output file: unique per path)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                return int(entry.name)
        except OSError:
            continue
    return None


def drive(port, count, fields=()):
    """`count` GET /hello on one kept-alive connection, with `fields` ((name, value) pairs) besides the host."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        # http.client adds its own Accept-Encoding unless told the fields carry one.
        connection.putrequest("GET", "/hello", skip_accept_encoding=has_field(fields, "accept-encoding"))
        for name, value in fields:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"instructions.py: port {port} answered {response.status}: {body[:200]!r}")
    connection.close()


def dumped_count(out_file):
    dump = Path(f"{out_file}.1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if dump.exists():
            match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(errors="replace"), re.M)
            if match:
                return int(match.group(1))
        time.sleep(0.2)
    sys.exit(f"instructions.py: callgrind wrote no dump at {dump}")


def has_field(fields, name):
    return any(field.lower() == name for field, _ in fields)


def app_request_behind_adapter(port):
    """The header fields the app receives behind the adapter, less the host and the framing, which
    are each client's own (`adapter_bench --app` answers /request-head with them)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/request-head")
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    if response.status != 200:
        sys.exit(f"instructions.py: /request-head through the adapter answered {response.status}: {body[:200]!r}")
    fields = [tuple(line.split(": ", 1)) for line in body.splitlines() if ": " in line]
    if not has_field(fields, "x-amzn-request-context"):
        sys.exit("instructions.py: the app's request behind the adapter has no x-amzn-request-context")
    return fields


def measured_instructions(port, out_files, requests, fields=()):
    """Instructions each process writing one of `out_files` executes for `requests` requests sent to
    `port` (with `fields`, as drive sends them), after a warm-up: the counts in the same order."""
    drive(port, WARM_UP, fields)
    pids = []
    for out_file in out_files:
        pid = pid_of(str(out_file))
        if pid is None:
            sys.exit(f"instructions.py: no process writes {out_file}")
        pids.append(pid)
    for pid in pids:
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True, timeout=60)
    drive(port, requests, fields)
    for pid in pids:
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True, timeout=60)
    return [dumped_count(out_file) for out_file in out_files]


class Processes:
    """Processes started for one measurement, stopped (whole process groups) when it ends."""

    def __init__(self, directory):
        self.directory = directory
        self.started = []

    def start(self, name, command):
        log = self.directory / f"{name}.log"
        with open(log, "wb") as output:  # the child keeps its own copy
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(process)
        return log

    def stop(self):
        for process in self.started:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def write_executable(path, text):
    path.write_text(text)
    path.chmod(0o755)


def nginx_conf(home, port, app_port):
    temps = "".join(f"  {t}_temp_path {home / t};\n" for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"worker_processes 1;\n{user}events {{ worker_connections 1024; }}\n"
            "http {\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 600s;\n" + temps +
            f"  upstream app {{\n    server 127.0.0.1:{app_port};\n    keepalive 16;\n"
            "    keepalive_requests 1000000;\n    keepalive_timeout 600s;\n  }\n"
            f"  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://app;\n"
            "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }\n  }\n}\n")


def adapter_binary():
    """The `snapbus` counted as the adapter: the layer's when named (what Lambda runs), else the release build's."""
    layer = os.environ.get(LAYER_BINARY_VARIABLE, "")
    return Path(layer).resolve() if layer else SNAPBUS


def nginx_in_front_of_app(directory, processes, name):
    """An app and nginx in front of it, each under callgrind, for one measurement called `name`:
    nginx's port and the two processes' callgrind output files."""
    app_port = free_port()
    app_out = directory / f"app-behind-{name}.callgrind"
    log = processes.start(f"app-{name}", callgrind(app_out, [str(BENCH), "--app", str(app_port)]))
    wait_listening(app_port, "the app", log)
    home = directory / name
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (home / temp).mkdir(parents=True)
    nginx_port = free_port()
    (home / "nginx.conf").write_text(nginx_conf(home, nginx_port, app_port))
    nginx_out = directory / f"{name}.callgrind"
    log = processes.start(name, callgrind(nginx_out, [
        str(NGINX), "-e", "stderr", "-p", str(home), "-c", str(home / "nginx.conf"), "-g",
        f"daemon off; master_process off; pid {home / 'nginx.pid'}; error_log stderr;"]))
    wait_listening(nginx_port, "nginx", log)
    return nginx_port, nginx_out, app_out


def measure(directory, requests, adapter):
    counts = {}
    processes = Processes(directory)
    try:
        # The adapter: /opt as the layer has it, its extension run under callgrind. The binary is
        # reached through an `extensions` directory, as it decides from its path that it is one.
        opt = directory / "opt"
        (opt / "extensions").mkdir(parents=True)
        (directory / "real" / "extensions").mkdir(parents=True)
        (directory / "real" / "extensions" / "snapbus").symlink_to(adapter)
        for name in ("bootstrap", "lib"):
            (opt / name).symlink_to(RELEASE / "opt" / name)
        adapter_out = directory / "adapter.callgrind"
        write_executable(opt / "extensions" / "snapbus", "#!/bin/sh\nexec " + " ".join(
            callgrind(adapter_out, [str(directory / "real" / "extensions" / "snapbus")])) + "\n")
        task_root = directory / "app"
        task_root.mkdir()
        app_behind_adapter_out = directory / "app-behind-adapter.callgrind"
        write_executable(task_root / "run.sh", "#!/bin/sh\nexec " + " ".join(
            callgrind(app_behind_adapter_out, [str(BENCH), "--app", '"$AWS_LWA_PORT"'])) + "\n")
        adapter_port = free_port()
        log = processes.start("adapter", [
            str(SNAPBUS), "emulate", "--opt", str(opt), "--handler", "run.sh", "--task-root", str(task_root),
            "--port", str(adapter_port), "--runtime-api-port", str(free_port()), "--timeout", "60",
            "--env", f"AWS_LWA_PORT={free_port()}", "--env", f"SNAPBUS_SEGMENT={directory / 'segment'}"])
        wait_listening(adapter_port, "the emulator in front of the adapter", log)
        counts["adapter"], counts["app_behind_adapter"] = measured_instructions(
            adapter_port, [adapter_out, app_behind_adapter_out], requests)
        app_request = app_request_behind_adapter(adapter_port)

        trivial_out = directory / "trivial.callgrind"
        trivial = directory / "trivial.sh"
        write_executable(trivial, "#!/bin/sh\nexec " + " ".join(
            callgrind(trivial_out, [str(BENCH), "--trivial-runtime"])) + "\n")
        trivial_port = free_port()
        log = processes.start("trivial", [
            str(SNAPBUS), "emulate", "--port", str(trivial_port), "--runtime-api-port", str(free_port()),
            "--timeout", "60", "--", str(trivial)])
        wait_listening(trivial_port, "the emulator in front of the trivial runtime", log)
        (counts["trivial"],) = measured_instructions(trivial_port, [trivial_out], requests)

        nginx_port, nginx_out, app_out = nginx_in_front_of_app(directory, processes, "nginx")
        counts["nginx"], counts["app_behind_nginx"] = measured_instructions(nginx_port, [nginx_out, app_out], requests)
        # The same again, the client sending what the app receives behind the adapter: nginx then
        # parses and forwards those bytes, and the app parses the same request on both paths.
        nginx_port, nginx_out, app_out = nginx_in_front_of_app(directory, processes, "nginx-same-request")
        counts["nginx_same_request"], counts["app_behind_nginx_same_request"] = measured_instructions(
            nginx_port, [nginx_out, app_out], requests, app_request)
    finally:
        processes.stop()
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests counted per path (default 2000)")
    parser.add_argument("--output", type=Path, help="write the counts as JSON here")
    parser.add_argument("--commit", help="the commit measured, as results record it (default: git's HEAD)")
    args = parser.parse_args()
    adapter = adapter_binary()
    for needed in (SNAPBUS, BENCH, NGINX, adapter):
        if not os.access(needed, os.X_OK):
            sys.exit(f"instructions.py: {needed} is missing (cmake --build --preset release, and --preset layer for "
                     f"{LAYER_BINARY_VARIABLE}; apt-get install nginx-light)")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("instructions.py: valgrind is missing (apt-get install valgrind)")

    with tempfile.TemporaryDirectory(prefix="snapbus-instructions-") as temp:
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        counts = measure(Path(temp), args.requests, adapter)
    per_request = {path: count / args.requests for path, count in counts.items()}
    own = per_request["adapter"] - per_request["trivial"]
    commit = args.commit or subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True).stdout.strip() or "unknown"
    report = {"context": {"date": started, "commit": commit, "requests": args.requests,
                          "adapter_binary": str(adapter.relative_to(ROOT) if adapter.is_relative_to(ROOT) else adapter)},
              "instructions_per_request": per_request,
              "adapter_own": own, "adapter_own_x_nginx": own / per_request["nginx"],
              "adapter_own_x_nginx_same_request": own / per_request["nginx_same_request"],
              "app_extra_behind_adapter": per_request["app_behind_adapter"] - per_request["app_behind_nginx"]}
    for path, value in per_request.items():
        print(f"{path:18s} {value:10.0f} instructions per request")
    print(f"adapter's own share (adapter - trivial): {own:.0f}, {own / per_request['nginx']:.2f}x nginx's "
          f"(adapter: {report['context']['adapter_binary']})")
    print(f"the app's work behind the adapter, beyond its work behind nginx: {report['app_extra_behind_adapter']:.0f}")
    print(f"with the app's request the same on both paths: the adapter's own share {report['adapter_own_x_nginx_same_request']:.2f}x "
          f"nginx's ({per_request['nginx_same_request']:.0f})")
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
