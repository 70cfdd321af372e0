"""examples/criu/snapbus-criu-action.sh, run as CRIU runs an action script: `sh -c <script>`, with the
step in CRTOOLS_SCRIPT_ACTION (criu/action-scripts.c), against real subscriber processes. CRIU
itself cannot run on this machine (`criu check` fails on its vDSO), so no dump or restore happens in
between; what is checked is the script's side of CRIU's contract: pre-dump runs every process's
before-snapshot hooks and fails when one fails (CRIU then gives up the dump), post-resume runs the
after-restore hooks at the next generation, and every other step publishes nothing."""
import collections
import os
import subprocess

from adapter_web_harness import REPO
from conftest import read_ready, read_records

SCRIPT = REPO / "examples" / "criu" / "snapbus-criu-action.sh"
# CRIU's other steps: in a dump, post-dump (the processes are still frozen); in a restore, the rest.
QUIET_STEPS = ["post-dump", "pre-restore", "setup-namespaces", "post-setup-namespaces", "network-lock",
               "network-unlock", "post-restore"]


def run_step(cli, bus, step: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CRTOOLS_SCRIPT_ACTION"}
    env.update(PATH=f"{cli.parent}:{env['PATH']}", SNAPBUS_SEGMENT=str(bus.segment))
    if step is not None:
        env["CRTOOLS_SCRIPT_ACTION"] = step
    return subprocess.run(["sh", "-c", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def hooks_by_pid(log, phase: str) -> dict:
    calls = collections.defaultdict(list)
    for record in read_records(log):
        if record["phase"] == phase:
            calls[record["pid"]].append((record["hook"], record["generation"]))
    return dict(calls)


def test_a_dump_and_a_restore_run_every_processs_hooks_once(cli, bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    plain = processes.python("subscriber.py", "--log", log, "--hooks", 2, env=env)
    forking = processes.python("subscriber.py", "--log", log, "--hooks", 2, "--fork", 1, env=env)
    pids = set(read_ready(plain, 1) + read_ready(forking, 2))

    dumped = run_step(cli, bus, "pre-dump")
    assert dumped.returncode == 0, dumped.stdout + dumped.stderr
    assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}
    assert bus.status()["state"]["phase"] == "snapshot-ready"

    seq = bus.status()["state"]["seq"]
    for step in QUIET_STEPS:
        quiet = run_step(cli, bus, step)
        assert quiet.returncode == 0 and not quiet.stdout, (step, quiet.stdout, quiet.stderr)
    assert bus.status()["state"]["seq"] == seq, "a step other than pre-dump and post-resume published"

    resumed = run_step(cli, bus, "post-resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert hooks_by_pid(log, "after-restore") == {pid: [("h1", 1), ("h2", 1)] for pid in pids}
    state = bus.status()["state"]
    assert state["phase"] == "running" and state["generation"] == 1, state
    assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}, \
        "a hook ran twice"


def test_a_failing_before_snapshot_hook_fails_pre_dump_so_criu_gives_up_the_dump(cli, bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    failing = processes.python("subscriber.py", "--log", log, "--fail", "h1", "--fail-phase", "before-snapshot",
                               env=env)
    [pid] = read_ready(failing, 1)
    dumped = run_step(cli, bus, "pre-dump")
    assert dumped.returncode != 0, dumped.stdout + dumped.stderr
    assert f"pid {pid}" in dumped.stdout and "'h1'" in dumped.stdout, dumped.stdout + dumped.stderr


def test_outside_criu_the_script_says_what_it_is_for(cli, bus):
    alone = run_step(cli, bus, None)
    assert alone.returncode == 2, alone.stdout + alone.stderr
    assert "CRTOOLS_SCRIPT_ACTION is not set" in alone.stderr and "--action-script" in alone.stderr, alone.stderr
