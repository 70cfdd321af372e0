"""examples/lambda/bootstrap.py, the bracket driven by hand from a minimal custom runtime with
`snapbus publish`, run the way its docstring says: under `snapbus emulate --snapstart` in front of
examples/fastapi with run.sh's default of four workers. Every worker acknowledges both steps, and
a request after the restore reaches a worker that has handled it."""
import json
import os
import pathlib
import select
import time

import httpx

from conftest import PYTHON, free_port, wait_until

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "fastapi"
BOOTSTRAP = REPO / "examples" / "lambda" / "bootstrap.py"
WORKERS = 4


def test_the_hand_driven_runtime_restores_every_worker(cli, processes, tmp_path):
    ready_file = tmp_path / "ready.json"
    variables = {"SNAPBUS_BIN": cli, "PYTHON": PYTHON, "SNAPBUS_SEGMENT": tmp_path / "snapbus.seg",
                 "PYTHONPATH": os.environ["PYTHONPATH"], "AWS_LWA_PORT": free_port()}
    args = [str(cli), "emulate", "--snapstart", "--task-root", str(EXAMPLE), "--port", "0",
            "--runtime-api-port", "0", "--ready-file", str(ready_file), "--init-timeout", "30"]
    for key, value in variables.items():
        args += ["--env", f"{key}={value}"]
    emulator = processes.start([*args, "--", PYTHON, str(BOOTSTRAP)], processes.env())
    wait_until(lambda: ready_file.exists() or emulator.poll() is not None, 20, "the ready file")
    assert ready_file.exists(), processes.stderr_of(emulator)
    front_door = json.loads(ready_file.read_text())["frontDoor"]

    with httpx.Client(timeout=60) as client:
        answer = client.get(f"http://{front_door}/", headers={"connection": "close"})
    output = read_available(emulator) + processes.stderr_of(emulator)
    assert answer.status_code == 200, answer.text + output
    body = answer.json()
    assert body["generation"] == 1 and body["phase"] == "RUNNING", body
    assert body["pool"]["opened_at_generation"] == 1, body
    assert f"waiting for {WORKERS} subscribers" in output, output
    for step in ("publish before-snapshot:", "publish restore:"):
        acked = [line for line in output.splitlines() if step in line and " acked " in line]
        assert len(acked) == WORKERS, output
    assert "restored; every worker's after-restore hooks have run" in output, output


def read_available(process, limit: float = 10.0) -> str:
    """What the process has written to its stdout so far (read for at most `limit` seconds)."""
    text = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and select.select([process.stdout.fileno()], [], [], 0.5)[0]:
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        text += chunk
    return text.decode(errors="replace")
