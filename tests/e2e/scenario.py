"""The seed scenario, run and judged: one app as a SnapStart function (EmulatedFunction), its
pools warmed at Init, PostgreSQL restarted while the function is frozen, then a burst of requests
after the restore; and the two verdicts, "the hooks fixed everything" and "without the hooks it
fails as the user saw it".

    run = run_scenario(cli, opt, tmp_path, relay, handler="run_uvicorn.sh")
    assert_hooks_fixed_everything(run)
"""
import dataclasses
import json
import pathlib

from emulated_function import PYTHON, EmulatedFunction, free_port
from postgres_server import RestartRelay

WORKERS = 4
BURST = 40
SPREAD_TIMEOUT = 60.0  # after the burst, more requests until every worker has answered
FAKE_RUNTIME = pathlib.Path(__file__).resolve().parents[1] / "python" / "fake_runtime"

# Every run's Init and Restore durations as the emulator reported them; conftest prints them.
DURATIONS: list[dict] = []


@dataclasses.dataclass
class ScenarioRun:
    answers: list[tuple[int, dict | str]]  # (HTTP status, body) of every request, as the caller saw it
    records: dict[int, list[dict]]         # pid -> its events (pool_worker.py), for every process that loaded the app
    restarts: list[tuple[int, int]]        # (began, done) of each PostgreSQL restart during the run, CLOCK_MONOTONIC ns
    report: dict                           # the emulator's --json report
    output: str                            # the emulator's stdout (the Lambda log: the adapter's lines and the app's
                                           # output among it), then its stderr (its diagnostics)

    def events(self, pid: int, name: str) -> list[dict]:
        return [record for record in self.records[pid] if record["event"] == name]


def run_scenario(cli: pathlib.Path, opt: pathlib.Path, scratch: pathlib.Path, relay: RestartRelay, *,
                 handler: str, label: str, env: dict[str, str] | None = None,
                 expect_subscribers: int = WORKERS) -> ScenarioRun:
    records = scratch / "records"
    records.mkdir()
    function_env = {
        "AWS_LWA_PORT": str(free_port()), "AWS_LWA_READINESS_CHECK_PATH": "/health",
        "SNAPBUS_SEGMENT": str(scratch / "snapbus.seg"), "SNAPBUS_EXPECT_SUBSCRIBERS": str(expect_subscribers),
        # Room for the workers that subscribe after the readiness check on a loaded machine, and a
        # limit well below the default (what is left of Lambda's 130 s Init), so a hang fails sooner.
        "SNAPBUS_BEFORE_SNAPSHOT_TIMEOUT_MS": "60000",
        "DATABASE_URL": relay.server.url, "SCENARIO_RECORDS": str(records),
        "PYTHON": PYTHON, "WORKERS": str(WORKERS), "LAYER_DIR": str(opt),
        # What Lambda's Python runtime has on its path; the layer's bootstrap adds its own package.
        "PYTHONPATH": str(FAKE_RUNTIME),
        **(env or {})}
    restarts_before = len(relay.restarts)
    function = EmulatedFunction(cli, opt, scratch, handler=handler, env=function_env, while_frozen=relay.command())
    answers: list = []
    try:
        function.wait_restored()
        answers = function.burst(BURST)
        workers = {int(path.stem) for path in records.glob("*.jsonl")}
        function.until_served_by(workers, answers, SPREAD_TIMEOUT)
    finally:
        report = function.stop()
    run = ScenarioRun(
        answers=answers,
        records={int(path.stem): [json.loads(line) for line in path.read_text().splitlines()]
                 for path in records.glob("*.jsonl")},
        restarts=relay.restarts[restarts_before:],
        report=report,
        output=function.stdout_file.read_text() + function.stderr_file.read_text())
    DURATIONS.append({"run": label, "opt": str(opt), "init": report.get("init"), "restore": report.get("restore"),
                      "frozenMs": report.get("frozenMs"), "freezer": report.get("freezer"),
                      "reportLines": report.get("reportLines"),
                      "requestsPerWorker": sorted((len(run.events(pid, "request")) for pid in run.records),
                                                  reverse=True)})
    assert (run.report.get("restore") or {}).get("status") == "success", function.logs()
    # The app's 500s are answers; no invocation may fail in the platform's eyes (crash, timeout).
    invocations = run.report.get("invocations", [])
    assert len(invocations) == len(answers) and all(i["status"] == "success" for i in invocations), function.logs()
    assert len(run.restarts) == 1, "PostgreSQL was not restarted exactly once while the function was frozen"
    assert len(run.records) == WORKERS, f"expected {WORKERS} workers to load the app: {sorted(run.records)}"
    for pid in run.records:
        assert len(run.events(pid, "init")) == 1, run.records[pid]
        assert run.events(pid, "init")[0]["t"] < run.restarts[0][0], f"worker {pid} warmed its pool after the freeze"
    served = {body["pid"] for _, body in answers if isinstance(body, dict)}
    assert served == set(run.records), (
        f"not every worker answered in {len(answers)} requests ({SPREAD_TIMEOUT} s): {sorted(served)} of "
        f"{sorted(run.records)}")
    return run


def assert_hooks_fixed_everything(run: ScenarioRun, *, before_snapshot_hooks: bool = True) -> None:
    """Zero errors; in every worker the after-restore hook ran once, after PostgreSQL came back and
    before the worker's first request; every token changed and all are distinct."""
    errors = [answer for answer in run.answers if answer[0] != 200]
    assert not errors, f"{len(errors)} of {len(run.answers)} requests failed: {errors[:4]}"
    _, restarted = run.restarts[0]
    new_tokens = set()
    for pid in run.records:
        init, = run.events(pid, "init")
        hooks = run.events(pid, "after_restore")
        assert len(hooks) == 1, f"worker {pid} ran its after-restore hook {len(hooks)} times"
        hook, = hooks
        if before_snapshot_hooks:
            assert len(run.events(pid, "before_snapshot")) == 1, run.records[pid]
        requests = run.events(pid, "request")
        assert hook["t"] > restarted, f"worker {pid}'s hook ran before PostgreSQL was back"
        assert hook["t"] < requests[0]["request_started"], f"worker {pid} served a request before its hook ended"
        assert hook["token"] != init["token"], f"worker {pid} kept its Init token"
        assert {request["token"] for request in requests} == {hook["token"]}, run.records[pid]
        new_tokens.add(hook["token"])
    assert len(new_tokens) == len(run.records), "two workers drew the same token"
    init_tokens = {run.events(pid, "init")[0]["token"] for pid in run.records}
    assert not new_tokens & init_tokens


def assert_failure_without_hooks(run: ScenarioRun) -> None:
    """What the user saw: no after-restore hook ran; each worker's first request after the restore
    failed on a connection PostgreSQL had closed (SQLAlchemy then invalidates the pool and the next
    one reconnects), and every worker still has the token it drew at Init, shared by every copy
    restored from the snapshot."""
    for pid in run.records:
        assert not run.events(pid, "after_restore") and not run.events(pid, "before_snapshot"), run.records[pid]
        init, = run.events(pid, "init")
        first, *rest = run.events(pid, "request")
        assert first["status"] == 500 and first["stale_connection"], f"worker {pid}'s first request: {first}"
        assert all(request["status"] == 200 for request in rest), run.records[pid]
        assert {request["token"] for request in run.events(pid, "request")} == {init["token"]}
    errors = [body for status, body in run.answers if status != 200]
    assert len(errors) == len(run.records), errors
    assert all(body["stale_connection"] for body in errors), errors
