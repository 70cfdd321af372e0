"""What the proxy-mode tests (test_adapter_proxy*.py) share: a raw HTTP/1.1 invocation through the
emulator's RIE path, read off the socket so that an answer's chunks and trailers are seen as sent,
and the environment and task root of a function whose layer runs the adapter in proxy mode.
"""
import json
import pathlib
import socket
import time

from adapter_web_harness import RIE_PATH, Function, write_executable
from conftest import free_port

PROXY_RESTORE = "[snapbus] proxy: restore/next (the proxy's, before the client's first invocation/next)"
CLIENT_RESTORE = "[snapbus] proxy: restore/next (the client's)"


# ---- a raw HTTP/1.1 exchange ----------------------------------------------------------------------

class Answer:
    """One HTTP answer as it came off the socket."""

    def __init__(self):
        self.status_line = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.trailers: list[tuple[str, str]] = []
        self.complete = False  # False: the connection ended inside the body

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def comparable(self) -> tuple:
        """Everything but what differs per call (the request id, the date); chunk boundaries
        depend on timing, the bytes they carry do not."""
        varying = {"x-amzn-requestid", "date"}
        return (self.status_line, [(n.lower(), v) for n, v in self.headers if n.lower() not in varying],
                self.body, [(n.lower(), v) for n, v in self.trailers], self.complete)


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float):
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def _fill(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no complete answer in time")
        self.sock.settimeout(remaining)
        got = self.sock.recv(65536)
        if not got:
            raise EOFError
        self.buffer += got

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode("latin-1")

    def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def fields(self) -> list[tuple[str, str]]:
        found = []
        while line := self.line():
            name, _, value = line.partition(":")
            found.append((name, value.strip()))
        return found


def invoke(function: Function, event: dict, timeout: float = 30, on_chunk=lambda index: None) -> Answer:
    """POST the event to the RIE path: the function's answer as it is, a streamed one with its
    error trailers. on_chunk(k) is called as soon as chunk k of a chunked answer is in."""
    host, port = function.front_door.rsplit(":", 1)
    body = json.dumps(event).encode()
    request = [f"POST {RIE_PATH} HTTP/1.1", f"Host: {function.front_door}", "Connection: close",
               "Content-Type: application/json", f"Content-Length: {len(body)}"]
    answer = Answer()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode() + body)
        reader = _Reader(sock, time.monotonic() + timeout)
        try:
            answer.status_line = reader.line()
            answer.headers = reader.fields()
            if (answer.header("Transfer-Encoding") or "").lower() == "chunked":
                while size := int(reader.line().split(";")[0], 16):
                    answer.chunks.append(reader.exactly(size))
                    reader.exactly(2)
                    on_chunk(len(answer.chunks) - 1)
                answer.trailers = reader.fields()
            else:
                answer.chunks.append(reader.exactly(int(answer.header("Content-Length") or 0)))
            answer.complete = True
        except EOFError:
            pass
    return answer


# ---- the functions ------------------------------------------------------------------------------

def proxy_env(**extra) -> dict:
    return {"SNAPBUS_MODE": "proxy", "SNAPBUS_PROXY_PORT": free_port(), **extra}


def task_root(directory: pathlib.Path, run_sh_body: str) -> pathlib.Path:
    directory.mkdir()
    write_executable(directory / "run.sh", "#!/bin/sh\nset -eu\n" + run_sh_body)
    return directory


def ran_the_bracket(function: Function, around: str = PROXY_RESTORE) -> bool:
    return any(line.startswith(around) for line in function.adapter_lines())


def run_direct_and_proxied(cli, opt_dir: pathlib.Path, processes, tmp_path: pathlib.Path, root: pathlib.Path,
                           calls_for) -> dict:
    """The same function twice, "direct" and "proxied": with a layer holding only the bootstrap (no
    extension, so nothing rewrites AWS_LAMBDA_RUNTIME_API and the client talks to the emulator), and
    with the whole layer in proxy mode. calls_for(acks) gives a run's calls; chunk k of an answer is
    acknowledged by creating acks/ack-<k>. Returns {name: (function, calls, answers)}, each stopped."""
    bare_opt = tmp_path / "opt-without-extensions"
    bare_opt.mkdir()
    (bare_opt / "bootstrap").symlink_to(opt_dir / "bootstrap")
    runs = {}
    for name, opt, env in [("direct", bare_opt, {}), ("proxied", opt_dir, proxy_env())]:
        acks = tmp_path / name / "acks"
        acks.mkdir(parents=True)
        calls = calls_for(acks)
        function = Function(cli, opt, processes, tmp_path / name).start(root, env)
        answers = [invoke(function, call, timeout=60, on_chunk=lambda k, acks=acks: (acks / f"ack-{k}").touch())
                   for call in calls]
        assert function.stop() == 0, function.output()
        runs[name] = (function, calls, answers)
    return runs


def report_outcomes(report: dict) -> dict:
    """What the report says of each phase and invocation, without durations, ids and memory."""
    return {"init": report["init"]["status"], "restore": report["restore"]["status"],
            "invocations": [(i["status"], i["errorType"]) for i in report["invocations"]],
            "exitCode": report["exitCode"]}
