"""What the adapter does when the app's SnapStart hooks go wrong, through `snapbus emulate
--snapstart --exit-on-failure`: a failing or hanging after-restore hook fails the restore with
Runtime.AfterRestoreError naming the process (and the hook), a failing before-snapshot hook fails
Init with Runtime.BeforeSnapshotError, and LWA 1.1's two SnapStart POSTs
(AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH, AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH) run inside the
bracket, a non-2xx answer failing their phase."""
import re


EXIT_INIT_FAILED = 3
EXIT_RESTORE_FAILED = 4
LWA_PATHS = {"AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": "/lwa/before-checkpoint",
             "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": "/lwa/after-restore"}


def failure_text(function, marker: str) -> str:
    """What the emulator logged from the failed phase's report line on: the error message the
    adapter posted is printed there ("Error: <message>" then the error type)."""
    stdout = function.stdout()
    start = stdout.find(marker)
    assert start >= 0, f"no {marker} line\n{function.output()}"
    return stdout[start:]


def the_pid_of(function, role: str) -> int:
    pids = [r["pid"] for r in function.records("role") if r["role"] == role]
    assert len(pids) == 1, f"role {role}: {pids}"
    return pids[0]


def test_a_failing_after_restore_hook_fails_the_restore_naming_process_and_hook(function, task_root):
    function.start(task_root, {"WORKERS": 4, "SNAPBUS_EXPECT_SUBSCRIBERS": 4, "APP_FAIL_HOOK": 1},
                   emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_RESTORE_FAILED, function.output()
    report = function.report()
    assert report["init"]["status"] == "success", report
    assert report["restore"]["status"] == "error", report
    assert report["restore"]["errorType"] == "Runtime.AfterRestoreError", report
    failing = the_pid_of(function, "fail")
    text = failure_text(function, "RESTORE_REPORT")
    assert "Runtime.AfterRestoreError" in text, text
    assert re.search(rf"\b{failing}\b", text), f"the message does not name process {failing}:\n{text}"
    assert "failing-hook" in text, f"the message does not name the hook:\n{text}"
    # The other workers' hooks succeeded: the message blames one process, not all.
    others = function.worker_pids() - {failing}
    assert len(others) == 3 and not any(re.search(rf"\b{pid}\b.*failing-hook", text) for pid in others), text
    assert function.adapter_lines(), f"no adapter log line\n{function.output()}"


def test_a_failing_before_snapshot_hook_fails_init_naming_process_and_hook(function, task_root):
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2, "APP_FAIL_BEFORE_HOOK": 1},
                   emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_INIT_FAILED, function.output()
    report = function.report()
    assert report["init"]["status"] == "error", report
    assert report["init"]["errorType"] == "Runtime.BeforeSnapshotError", report
    assert report["restore"] is None, report
    failing = the_pid_of(function, "fail-before")
    text = failure_text(function, "INIT_REPORT")
    assert re.search(rf"\b{failing}\b", text) and "failing-before-hook" in text, text
    assert not function.records("after_restore_start"), "restored after a failed before-snapshot hook"


def test_a_hanging_after_restore_hook_meets_its_timeout(function, task_root):
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2, "APP_HANG_HOOK": 1,
                               "SNAPBUS_AFTER_RESTORE_TIMEOUT_MS": 1000},
                   emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_RESTORE_FAILED, function.output()
    report = function.report()
    # The adapter's own timeout, well inside the emulator's 10 s restore limit (which would say
    # SnapStartTimeoutException instead).
    assert report["restore"]["errorType"] == "Runtime.AfterRestoreError", report
    assert report["restore"]["durationMs"] < 6000, report
    hanging = the_pid_of(function, "hang")
    assert function.records("hang_start"), "the hanging hook never started"
    text = failure_text(function, "RESTORE_REPORT")
    assert re.search(rf"\b{hanging}\b", text), f"the message does not name process {hanging}:\n{text}"
    assert re.search(r"time[ds]? ?out|timeout|within|did not (ack|answer|finish)", text, re.IGNORECASE), \
        f"the message does not say the hook ran out of time:\n{text}"
    assert "still running after-restore hook 'hanging-hook'" in text, f"the message does not name the hook:\n{text}"


def test_lwa_snapstart_paths_are_posted_once_each_inside_the_bracket(function, task_root):
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2, **LWA_PATHS})
    with function.client(timeout=60) as client:
        answer = client.get("/whoami")
    assert answer.status_code == 200 and answer.json()["generation"] == 1, answer.text
    function.wait_restored()

    before = function.records("lwa_before_checkpoint")
    after = function.records("lwa_after_restore")
    assert len(before) == 1 and len(after) == 1, (before, after)
    assert before[0]["generation"] == 0, "the before-checkpoint POST came after the restore"
    assert after[0]["generation"] == 1, "the after-restore POST came before the restore"
    # README's order: the before-checkpoint POST, then the workers' before-snapshot hooks; after
    # the restore, the workers' after-restore hooks, then the after-restore POST.
    snapshot_hooks = function.records("before_snapshot")
    assert len(snapshot_hooks) == 2 and before[0]["t"] < min(r["t"] for r in snapshot_hooks)
    restore_hooks = function.records("after_restore_end")
    assert len(restore_hooks) == 2 and after[0]["t"] > max(r["t"] for r in restore_hooks)
    first_request = min(r["t"] for r in function.records("request") if r["path"] == "/whoami")
    assert after[0]["t"] < first_request, "a request reached the app before the after-restore POST"
    posts = [r for r in function.records("request") if r["path"].startswith("/lwa/")]
    assert [r["method"] for r in posts] == ["POST", "POST"], posts
    assert function.stop() == 0, function.output()


def test_a_failing_lwa_before_checkpoint_post_fails_init(function, task_root):
    function.start(task_root, {"WORKERS": 1, **LWA_PATHS, "APP_LWA_BEFORE_STATUS": 500},
                   emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_INIT_FAILED, function.output()
    report = function.report()
    assert report["init"]["status"] == "error", report
    assert report["init"]["errorType"] == "Runtime.BeforeSnapshotError", report
    assert report["restore"] is None, report
    text = failure_text(function, "INIT_REPORT")
    assert "/lwa/before-checkpoint" in text and "500" in text, text
    assert len(function.records("lwa_before_checkpoint")) == 1


def test_a_failing_lwa_after_restore_post_fails_the_restore(function, task_root):
    function.start(task_root, {"WORKERS": 1, **LWA_PATHS, "APP_LWA_AFTER_STATUS": 503},
                   emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_RESTORE_FAILED, function.output()
    report = function.report()
    assert report["restore"]["status"] == "error", report
    assert report["restore"]["errorType"] == "Runtime.AfterRestoreError", report
    text = failure_text(function, "RESTORE_REPORT")
    assert "/lwa/after-restore" in text and "503" in text, text


def test_the_hooks_and_the_lwa_post_share_the_after_restore_timeout(function, task_root):
    # The workers' hooks take 2 s of the 3 s, and the POST after them does not answer: the restore
    # fails when the 3 s are up, not 3 s after the hooks (Lambda allows the whole restore 10 s, and
    # past that the restore/error naming the POST would never be sent).
    function.start(task_root, {"WORKERS": 1, "SNAPBUS_EXPECT_SUBSCRIBERS": 1, "APP_HOOK_S": 2,
                               "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": "/lwa/after-restore", "APP_LWA_AFTER_S": 30,
                               "SNAPBUS_AFTER_RESTORE_TIMEOUT_MS": 3000},
                   emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_RESTORE_FAILED, function.output()
    report = function.report()
    assert report["restore"]["errorType"] == "Runtime.AfterRestoreError", report
    assert function.records("lwa_after_restore"), "the POST never reached the app"
    # 2 s of hooks and a full 3 s more for the POST would end at 5 s at the earliest.
    assert report["restore"]["durationMs"] < 4500, report
    text = failure_text(function, "RESTORE_REPORT")
    assert "/lwa/after-restore" in text and "timeout" in text.lower(), text
