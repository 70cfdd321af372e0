"""One app of the scenario run as a Lambda function under `snapbus emulate --snapstart`, behind
the snapbus layer: the extension (the adapter) from <opt>/extensions, the runtime started through
AWS_LAMBDA_EXEC_WRAPPER=<opt>/bootstrap, which runs the handler script of tests/e2e/function.

    function = EmulatedFunction(cli, opt, tmp_path, handler="run_uvicorn.sh", env={...},
                                while_frozen=relay.command())
    function.wait_restored()          # Init, freeze (PostgreSQL restarted meanwhile), restore
    answers = function.burst(40)      # through the Function URL front door
    report = function.stop()          # the emulator's --json report, Init/Restore durations
"""
import concurrent.futures
import json
import os
import pathlib
import platform
import signal
import socket
import stat
import subprocess
import time
import zipfile

import httpx

FUNCTION_DIR = pathlib.Path(__file__).resolve().parent / "function"
REPOSITORY = FUNCTION_DIR.parents[2]
PYTHON = "/usr/bin/python3"
RESTORE_TIMEOUT = 120.0  # Init under load (4 workers importing FastAPI and SQLAlchemy), freeze, restore
REQUEST_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def layer_opt(scratch: pathlib.Path) -> pathlib.Path:
    """The function's /opt: the layer zip unpacked, when one was built (SNAPBUS_LAYER_ZIP, or the
    `layer` preset's output for this machine, build/layer/packaging/snapbus-layer-<arch>.zip), else
    the build tree's layer layout, SNAPBUS_OPT_DIR."""
    default_zip = REPOSITORY / "build" / "layer" / "packaging" / f"snapbus-layer-{platform.machine()}.zip"
    layer_zip = pathlib.Path(os.environ.get("SNAPBUS_LAYER_ZIP", default_zip))
    if not layer_zip.exists():
        return pathlib.Path(os.environ["SNAPBUS_OPT_DIR"])
    opt = scratch / "opt"
    with zipfile.ZipFile(layer_zip) as layer:
        for member in layer.infolist():
            path = layer.extract(member, opt)
            mode = member.external_attr >> 16  # zipfile drops the Unix mode; bootstrap must stay executable
            if stat.S_IMODE(mode):
                os.chmod(path, stat.S_IMODE(mode))
    return opt


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatedFunction:
    def __init__(self, cli: pathlib.Path, opt: pathlib.Path, scratch: pathlib.Path, *, handler: str,
                 env: dict[str, str], while_frozen: str) -> None:
        self.ready_file = scratch / "ready.json"
        self.report_file = scratch / "report.json"
        self.stdout_file = scratch / "emulator.stdout"
        self.stderr_file = scratch / "emulator.stderr"
        command = [str(cli), "emulate", "--snapstart", "--exit-on-failure", "--port", "0", "--runtime-api-port", "0",
                   "--ready-file", str(self.ready_file), "--json", str(self.report_file),
                   "--opt", str(opt), "--exec-wrapper", str(opt / "bootstrap"),
                   "--task-root", str(FUNCTION_DIR), "--handler", handler,
                   "--timeout", "30", "--while-frozen", while_frozen]
        for key, value in env.items():
            command += ["--env", f"{key}={value}"]
        with open(self.stdout_file, "w") as out, open(self.stderr_file, "w") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self.front_door = ""

    def logs(self) -> str:
        return (f"--- emulator stdout ---\n{self.stdout_file.read_text()}\n"
                f"--- emulator stderr ---\n{self.stderr_file.read_text()}")

    def wait_restored(self) -> None:
        """Until the emulator logged RESTORE_REPORT: Init, the freeze and the restore are over,
        so every request of the test comes after the restore."""
        deadline = time.monotonic() + RESTORE_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the emulator exited with {self.process.returncode}\n{self.logs()}")
            if not self.front_door and self.ready_file.exists():
                try:
                    self.front_door = json.loads(self.ready_file.read_text())["frontDoor"]
                except ValueError:
                    pass  # not completely written yet
            log = self.stdout_file.read_text()
            if "RESTORE_REPORT" in log and self.front_door:
                if "Status: error" in log:
                    raise AssertionError(f"the restore failed\n{self.logs()}")
                return
            time.sleep(0.1)
        raise AssertionError(f"no restore within {RESTORE_TIMEOUT} s\n{self.logs()}")

    def request(self, client: httpx.Client, path: str = "/work") -> tuple[int, dict | str]:
        answer = client.get(f"http://{self.front_door}{path}")
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text

    def burst(self, count: int, clients: int = 4) -> list[tuple[int, dict | str]]:
        """`count` requests from `clients` concurrent callers through the front door. The adapter
        takes one invocation at a time; the web server's workers share them as they accept."""
        def caller(share: int) -> list:
            with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
                return [self.request(client) for _ in range(share)]

        shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            return [answer for part in pool.map(caller, shares) for answer in part]

    def until_served_by(self, pids: set[int], answers: list, timeout: float) -> list:
        """More requests, one at a time, until every pid in `pids` has answered at least once or
        `timeout` seconds passed. accept() hands each new connection to whichever worker the kernel
        wakes first, so a burst alone guarantees no spread: here two workers often take nearly all
        of the first hundred requests."""
        served = {body["pid"] for _, body in answers if isinstance(body, dict)}
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            while not pids <= served and time.monotonic() < deadline:
                answer = self.request(client)
                answers.append(answer)
                if isinstance(answer[1], dict):
                    served.add(answer[1]["pid"])
        return answers

    def stop(self) -> dict:
        """SIGTERM (orderly shutdown), then the --json report, with the INIT_REPORT and
        RESTORE_REPORT lines of the emulator's stdout added as "reportLines"."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
            raise AssertionError(f"the emulator did not stop within {STOP_TIMEOUT} s\n{self.logs()}")
        report = json.loads(self.report_file.read_text()) if self.report_file.exists() else {}
        report["reportLines"] = [line for line in self.stdout_file.read_text().splitlines()
                                 if line.startswith(("INIT_REPORT", "RESTORE_REPORT"))]
        return report
