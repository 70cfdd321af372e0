"""`snapbus publish` drives real subscriber processes, forked workers among them."""
import collections

from conftest import read_ready, read_records

HOOKS = ["h1", "h2", "h3"]


def hooks_by_pid(records, phase):
    calls = collections.defaultdict(list)
    for record in records:
        if record["phase"] == phase:
            calls[record["pid"]].append(record["hook"])
    return dict(calls)


def test_every_process_runs_each_hook_once_in_order(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    plain = processes.python("subscriber.py", "--log", log, "--hooks", 3, env=env)
    forking = processes.python("subscriber.py", "--log", log, "--hooks", 3, "--fork", 2, env=env)
    pids = set(read_ready(plain, 1) + read_ready(forking, 3))
    assert len(pids) == 4

    bus.publish_ok("before-snapshot")
    before = hooks_by_pid(read_records(log), "before-snapshot")
    assert before == {pid: HOOKS[::-1] for pid in pids}, processes.all_stderr()

    bus.publish_ok("restore")
    records = read_records(log)
    after = hooks_by_pid(records, "after-restore")
    assert after == {pid: HOOKS for pid in pids}, processes.all_stderr()
    assert all(r["generation"] == 1 for r in records if r["phase"] == "after-restore")
    # What each process acknowledged, as the publisher sees it.
    slots = {slot["pid"]: slot for slot in bus.status()["subscribers"]}
    for pid in pids:
        assert slots[pid]["name"] == "python:subscriber.py"
        assert slots[pid]["handled_generation"] == 1 and slots[pid]["outcome"] == "ok", slots[pid]

    # A second restore runs the after-restore hooks once more, and nothing else.
    bus.publish_ok("restore")
    records = read_records(log)
    assert hooks_by_pid(records, "after-restore") == {pid: HOOKS * 2 for pid in pids}
    assert hooks_by_pid(records, "before-snapshot") == before

    result = bus.publish("shutdown")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hooks_by_pid(read_records(log), "shutdown") == {pid: HOOKS[::-1] for pid in pids}
    for proc in (plain, forking):
        assert proc.wait(timeout=10) == 0, processes.stderr_of(proc)


def test_failing_hook_fails_publish_naming_process_and_exception(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    healthy = processes.python("subscriber.py", "--log", log, env=env)
    failing = processes.python("subscriber.py", "--log", log, "--fail", "h1", env=env)
    healthy_pid, = read_ready(healthy, 1)
    failing_pid, = read_ready(failing, 1)

    result = bus.publish("restore")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert str(failing_pid) in output
    assert "after-restore hook 'h1' failed: ValueError: h1 cannot reach the database" in output
    # Every hook still ran in both processes, the failing one's h2 included.
    assert hooks_by_pid(read_records(log), "after-restore") == {healthy_pid: ["h1", "h2"],
                                                                failing_pid: ["h1", "h2"]}


def test_guards_racing_the_watcher_run_each_hook_exactly_once(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    proc = processes.python("subscriber.py", "--log", log, "--guard-threads", 4, "--hook-sleep", 0.05,
                            "--fork", 1, env=env)
    pids = set(read_ready(proc, 2))

    bus.publish_ok("restore")
    records = read_records(log)
    assert hooks_by_pid(records, "after-restore") == {pid: ["h1", "h2"] for pid in pids}, processes.all_stderr()
