"""`snapbus emulate | head`: the reader of the emulator's output goes away while the function runs.
A write to the closed pipe then stops the emulator as SIGTERM does (the function shut down, the JSON
report written, exit code 0), where SIGPIPE used to kill it mid-line with no report."""
import http.client
import json
import pathlib
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
