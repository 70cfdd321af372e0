"""The front ends of the adapter's figures, each in front of the benchmark's app (`adapter_bench --app`),
started for one measurement and stopped when it ends. instructions.py counts their instructions under
valgrind; cpu_time.py reads their CPU time from /proc. Each process is started through a `Wrapper`,
which decides how it runs (under callgrind, or as it is) and finds it again by its role.

  adapter        `snapbus` as the extension in web mode under `snapbus emulate` (the layer's binary when
                 SNAPBUS_BENCH_LAYER_BINARY names it), in front of app_behind_adapter; buffered, or
                 under another role in response_stream mode
  trivial        `adapter_bench --trivial-runtime` under `snapbus emulate`, beside an idle extension
                 (the adapter's process count): the same Runtime API client, answering each event at once
  nginx          nginx (one process, keep-alive upstream) in front of app_behind_nginx; buffering, or
                 under another role with proxy_buffering off
  nginx_at_once  nginx answering GET /hello itself: nginx's counterpart of the trivial runtime

  processes = Processes(directory)
  wrapper = Marked()                       # or instructions.py's Callgrind(directory)
  port = start_adapter(directory, processes, wrapper)
  drive(port, 1000)
  pid = wrapper.pid("adapter")
  processes.stop()
"""
import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "build" / "release"
SNAPBUS = RELEASE / "cli" / "snapbus"
BENCH = RELEASE / "benchmarks" / "adapter_bench"
NGINX = Path("/usr/sbin/nginx")
LAYER_BINARY_VARIABLE = "SNAPBUS_BENCH_LAYER_BINARY"
START_TIMEOUT_S = 120
HELLO_BODY = "h" * 64  # what the app answers GET /hello with (adapter_bench.cpp's kHelloBody)


def fail(message):
    sys.exit(f"{Path(sys.argv[0]).name}: {message}")


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
    fail(f"{what} did not listen on {port} within {START_TIMEOUT_S} s; see {log}")


def has_field(fields, name):
    return any(field.lower() == name for field, _ in fields)


def drive(port, count, fields=(), path="/hello"):
    """`count` GET `path` on one kept-alive connection, with `fields` ((name, value) pairs) besides the host."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        # http.client adds its own Accept-Encoding unless told the fields carry one.
        connection.putrequest("GET", path, skip_accept_encoding=has_field(fields, "accept-encoding"))
        for name, value in fields:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            fail(f"port {port} answered {response.status}: {body[:200]!r}")
    connection.close()


def app_request_behind_adapter(port):
    """The header fields the app receives behind the adapter, less the host and the framing, which
    are each client's own (`adapter_bench --app` answers /request-head with them)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/request-head")
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    if response.status != 200:
        fail(f"/request-head through the adapter answered {response.status}: {body[:200]!r}")
    fields = [tuple(line.split(": ", 1)) for line in body.splitlines() if ": " in line]
    if not has_field(fields, "x-amzn-request-context"):
        fail("the app's request behind the adapter has no x-amzn-request-context")
    return fields


class Marked:
    """Runs each process as it is, marked by its role in its environment, where pid() finds it."""

    VARIABLE = "SNAPBUS_BENCH_ROLE"

    def argv(self, role, program):
        return ["env", f"{self.VARIABLE}={role}", *program]

    def pid(self, role):
        return pid_with(f"{self.VARIABLE}={role}\0", "environ", f"no process has the role {role}")


def pid_with(marker, file_name, missing):
    """The process whose /proc/PID/`file_name` holds `marker`; fails with `missing` when none does."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / file_name).read_bytes():
                return int(entry.name)
        except OSError:
            continue
    fail(missing)


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


def shell_exec(argv):
    """A /bin/sh script line that execs `argv` (words with no quote in them; "$VAR" left to the shell)."""
    return "#!/bin/sh\nexec " + " ".join(argv) + "\n"


def adapter_binary():
    """The `snapbus` run as the adapter: the layer's when named (what Lambda runs), else the release build's."""
    layer = os.environ.get(LAYER_BINARY_VARIABLE, "")
    return Path(layer).resolve() if layer else SNAPBUS


def results_arguments(description, requests, counted):
    """An argument parser with what every results-writing script takes: --requests (`requests` by
    default, per path, `counted` as the help says), --output and --commit (for run_context)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--requests", type=int, default=requests,
                        help=f"requests {counted} per path (default {requests})")
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    parser.add_argument("--commit", help="the commit measured, as results record it (default: git's HEAD)")
    return parser


def run_context(started, commit, **more):
    """What a results file records of its run: when, at which commit (`commit`, else git's HEAD), and
    which adapter binary."""
    commit = commit or subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True).stdout.strip() or "unknown"
    adapter = adapter_binary()
    return {"date": started, "commit": commit, **more,
            "adapter_binary": str(adapter.relative_to(ROOT) if adapter.is_relative_to(ROOT) else adapter)}


def check_built():
    for path in (SNAPBUS, BENCH, NGINX, adapter_binary()):
        if not os.access(path, os.X_OK):
            fail(f"{path} is missing (cmake --build --preset release, and --preset layer for "
                 f"{LAYER_BINARY_VARIABLE}; apt-get install nginx-light)")


def emulate(opt, port, *arguments):
    return [str(SNAPBUS), "emulate", "--opt", str(opt), "--port", str(port), "--runtime-api-port", str(free_port()),
            "--timeout", "60", *arguments]


def start_adapter(directory, processes, wrapper, role="adapter", invoke_mode="buffered"):
    """The emulator with the adapter (role `role`) as its extension, in AWS_LWA_INVOKE_MODE `invoke_mode`,
    and the app (role app_behind_`role`) as its runtime: the emulator's port."""
    # /opt as the layer has it. The binary is reached through an `extensions` directory, as it decides
    # from its path that it is one.
    opt = directory / f"{role}-opt"
    (opt / "extensions").mkdir(parents=True)
    real = directory / f"{role}-real" / "extensions"
    real.mkdir(parents=True)
    (real / "snapbus").symlink_to(adapter_binary())
    for name in ("bootstrap", "lib"):
        (opt / name).symlink_to(RELEASE / "opt" / name)
    write_executable(opt / "extensions" / "snapbus", shell_exec(wrapper.argv(role, [str(real / "snapbus")])))
    task_root = directory / f"{role}-task"
    task_root.mkdir()
    write_executable(task_root / "run.sh",
                     shell_exec(wrapper.argv(f"app_behind_{role}", [str(BENCH), "--app", '"$AWS_LWA_PORT"'])))
    port = free_port()
    log = processes.start(role, emulate(
        opt, port, "--handler", "run.sh", "--task-root", str(task_root), "--env", f"AWS_LWA_PORT={free_port()}",
        "--env", f"AWS_LWA_INVOKE_MODE={invoke_mode}", "--env", f"SNAPBUS_SEGMENT={directory / f'{role}-segment'}"))
    wait_listening(port, "the emulator in front of the adapter", log)
    return port


def start_trivial(directory, processes, wrapper):
    """The emulator with the trivial runtime beside an idle extension: the emulator's port. Role: trivial."""
    opt = directory / "trivial-opt"
    (opt / "extensions").mkdir(parents=True)
    write_executable(opt / "extensions" / "idle", shell_exec([str(BENCH), "--idle-extension"]))
    runtime = directory / "trivial.sh"
    write_executable(runtime, shell_exec(wrapper.argv("trivial", [str(BENCH), "--trivial-runtime"])))
    port = free_port()
    log = processes.start("trivial", emulate(opt, port, "--", str(runtime)))
    wait_listening(port, "the emulator in front of the trivial runtime", log)
    return port


def nginx_conf(home, port, app_port, streaming=False):
    """nginx proxying to `app_port`, or answering GET /hello itself when it is None. `streaming` turns
    proxy_buffering off: each piece of the app's answer goes on as it comes."""
    temps = "".join(f"  {t}_temp_path {home / t};\n" for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    if app_port is None:
        upstream = ""
        location = f"      default_type text/plain;\n      return 200 \"{HELLO_BODY}\";\n"
    else:
        upstream = (f"  upstream app {{\n    server 127.0.0.1:{app_port};\n    keepalive 16;\n"
                    "    keepalive_requests 1000000;\n    keepalive_timeout 600s;\n  }\n")
        location = ("      proxy_pass http://app;\n      proxy_http_version 1.1;\n"
                    "      proxy_set_header Connection \"\";\n" + ("      proxy_buffering off;\n" if streaming else ""))
    return (f"worker_processes 1;\n{user}events {{ worker_connections 1024; }}\n"
            "http {\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 600s;\n" + temps + upstream +
            f"  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n{location}    }}\n  }}\n}}\n")


def start_nginx(directory, processes, wrapper, role, app_port=None, streaming=False):
    """nginx (role `role`) in front of the app on `app_port`, or answering itself when None: its port.
    `streaming` as nginx_conf's."""
    home = directory / role
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (home / temp).mkdir(parents=True)
    port = free_port()
    (home / "nginx.conf").write_text(nginx_conf(home, port, app_port, streaming))
    log = processes.start(role, wrapper.argv(role, [
        str(NGINX), "-e", "stderr", "-p", str(home), "-c", str(home / "nginx.conf"), "-g",
        f"daemon off; master_process off; pid {home / 'nginx.pid'}; error_log stderr;"]))
    wait_listening(port, "nginx", log)
    return port


def start_app(processes, wrapper, role):
    """The app by itself (role `role`): its port."""
    port = free_port()
    log = processes.start(role, wrapper.argv(role, [str(BENCH), "--app", str(port)]))
    wait_listening(port, "the app", log)
    return port
