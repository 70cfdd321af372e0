"""The reader of the emulator's output, as users run it: `snapbus emulate | head`, a pager, a paused
terminal.

- A reader that goes away while the function runs: a write to the closed pipe stops the emulator as
  SIGTERM does (the function shut down, the JSON report written, exit code 0), where SIGPIPE used to
  kill it mid-line with no report.
- A reader that stops reading without going away holds up only the output: the invocations are
  answered and timed out as before, and nothing is lost when the reader comes back. The emulator used
  to stop serving as soon as its stdout pipe was full.
"""
import http.client
import json
import pathlib
import re
import signal
import time

from conftest import PROCESS_TIMEOUT, PYTHON, read_line

FAKE_RUNTIME = pathlib.Path(__file__).resolve().parents[2] / "emulator" / "testdata" / "fake_runtime.py"


def test_a_closed_stdout_shuts_the_function_down_as_sigterm_does(cli, processes, tmp_path):
    ready = tmp_path / "ready.json"
    report = tmp_path / "report.json"
    emulator = processes.start([str(cli), "emulate", "--port", "0", "--runtime-api-port", "0", "--ready-file",
                                str(ready), "--json", str(report), "--", PYTHON, str(FAKE_RUNTIME), "echo"],
                               processes.env())
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not (ready.exists() and ready.stat().st_size) and time.monotonic() < deadline:
        assert emulator.poll() is None, processes.stderr_of(emulator)
        time.sleep(0.02)
    assert read_line(emulator).startswith("INIT_START"), "the log does not run"
    emulator.stdout.close()  # the reader goes away

    # The invocation's START line meets the closed pipe; whatever its answer, the emulator stops.
    host, port = json.loads(ready.read_text())["frontDoor"].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=PROCESS_TIMEOUT)
    try:
        connection.request("POST", "/2015-03-31/functions/function/invocations", body=b"{}")
        connection.getresponse().read()
    except (ConnectionError, http.client.HTTPException):
        pass  # the stop may close the connection first
    finally:
        connection.close()

    assert emulator.wait(timeout=PROCESS_TIMEOUT) == 0, processes.stderr_of(emulator)
    stderr = processes.stderr_of(emulator)
    assert "received Broken pipe (the reader of the emulator's output went away), shutting the function down" \
        in stderr, stderr
    assert stderr.count("Broken pipe") == 1, "one closed pipe, one stop: " + stderr
    assert json.loads(report.read_text())["exitCode"] == 0


def start_emulator(cli, processes, tmp_path, runtime_mode, *options):
    """`snapbus emulate` with the fake runtime; returns it and its front door's (host, port). Its stdout
    is a pipe this test reads only when it chooses to."""
    ready = tmp_path / "ready.json"
    emulator = processes.start([str(cli), "emulate", "--port", "0", "--runtime-api-port", "0", "--ready-file",
                                str(ready), *options, "--", PYTHON, str(FAKE_RUNTIME), runtime_mode],
                               processes.env())
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not (ready.exists() and ready.stat().st_size) and time.monotonic() < deadline:
        assert emulator.poll() is None, processes.stderr_of(emulator)
        time.sleep(0.02)
    host, port = json.loads(ready.read_text())["frontDoor"].rsplit(":", 1)
    return emulator, (host, int(port))


def invoke(front_door, event: dict, timeout: float) -> tuple[int, dict, dict]:
    connection = http.client.HTTPConnection(*front_door, timeout=timeout)
    try:
        connection.request("POST", "/2015-03-31/functions/function/invocations", body=json.dumps(event))
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), json.loads(answer.read())
    finally:
        connection.close()


def stop_and_read_everything(emulator) -> str:
    emulator.send_signal(signal.SIGTERM)
    out, _ = emulator.communicate(timeout=PROCESS_TIMEOUT)
    return out


# What a pipe holds on Linux is 64 KiB: three times that, and more, waits for the reader.
PAD = 200_000


def test_a_reader_that_stops_reading_holds_up_no_invocation_and_loses_nothing(cli, processes, tmp_path):
    emulator, front_door = start_emulator(cli, processes, tmp_path, "chatty")
    # Nobody reads the emulator's stdout from here until the stop.
    for n in range(3):
        try:
            status, _, body = invoke(front_door, {"say": n, "pad": PAD}, timeout=15)
        except TimeoutError:
            raise AssertionError(f"invocation {n} was not answered while the emulator's stdout was not read: "
                                 + processes.stderr_of(emulator))
        assert (status, body["echo"]["say"]) == (200, n)

    out = stop_and_read_everything(emulator)
    assert emulator.returncode == 0, processes.stderr_of(emulator)
    lines = out.splitlines()
    pads = [i for i, line in enumerate(lines) if line == "p" * PAD]
    assert len(pads) == 3, f"{len(pads)} of the 3 padded lines came whole"
    for n, pad in enumerate(pads):
        # Each invocation's output, whole and in order between its platform lines: stdout, stderr,
        # stdout again, as the function wrote them.
        assert lines[pad - 1] == f"warns {n}", lines[pad - 1][:80]
        assert lines[pad - 2] == f"says {n}", lines[pad - 2][:80]
        assert lines[pad - 3].startswith("START RequestId: "), lines[pad - 3][:80]
        assert lines[pad + 1].startswith("END RequestId: "), lines[pad + 1][:80]
        assert lines[pad + 2].startswith("REPORT RequestId: "), lines[pad + 2][:80]


def test_a_function_held_up_by_its_output_still_meets_its_timeout(cli, processes, tmp_path):
    """Past what the emulator keeps for a stopped reader (1 MiB), the function's own writes wait, as
    on a terminal that stopped: the invocation then meets its --timeout, which the emulator still
    keeps, and the platform says so in the log that the reader gets when it comes back."""
    emulator, front_door = start_emulator(cli, processes, tmp_path, "chatty", "--timeout", "1")
    try:
        status, headers, body = invoke(front_door, {"say": "a lot", "pad": 8 << 20}, timeout=15)
    except TimeoutError:
        raise AssertionError("the timeout was not kept while the emulator's stdout was not read: "
                             + processes.stderr_of(emulator))
    assert status == 200
    assert headers.get("X-Amz-Function-Error") == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout", body

    out = stop_and_read_everything(emulator)
    assert emulator.returncode == 0, processes.stderr_of(emulator)
    assert "Error: Task timed out after 1.00 seconds" in out
    # What the function's writes handed over before it was stopped came through: the 64 KiB of a pipe
    # and the 1 MiB the emulator keeps, at least.
    said = out.index("warns a lot\n") + len("warns a lot\n")
    written = re.match(r"p*", out[said:]).group()
    assert len(written) > 1 << 20, f"only {len(written)} bytes of the function's output came through"
