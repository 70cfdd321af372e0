"""The seed user's code unchanged: a FastAPI app whose only SnapStart code is
snapshot_restore_py.register_after_restore (tests/python/fake_runtime stands in for Lambda's
module), under uvicorn with 4 workers, in zero-code mode (SNAPBUS_ZERO_CODE=1: the layer's
bootstrap puts snapbus's startup directory on PYTHONPATH)."""
from emulated_function import free_port
from scenario import WORKERS, assert_hooks_fixed_everything, run_scenario

# Zero-code mode subscribes every Python process as its interpreter starts: uvicorn's supervisor
# and the resource tracker multiprocessing's spawn starts as well as the workers, and each worker
# before it has imported the app. So the expected count is WORKERS + 2, and it is not enough: the
# handler (run_uvicorn_all_started.sh) also holds the readiness check until every worker has
# started the app. Without that gate the snapshot was taken while workers still imported the app
# (their pools opened and their hooks registered only after the restore).
ZERO_CODE_SUBSCRIBERS = WORKERS + 2


def test_snapshot_restore_py_hooks_run_in_every_worker_without_code_changes(cli, opt, database, tmp_path):
    run = run_scenario(cli, opt, tmp_path, database, handler="run_uvicorn_all_started.sh",
                       label="legacy fastapi, zero-code",
                       env={"APP": "legacy_app", "SNAPBUS_ZERO_CODE": "1",
                            "AWS_LWA_READINESS_CHECK_PORT": str(free_port()),
                            "AWS_LWA_READINESS_CHECK_PROTOCOL": "tcp"},
                       expect_subscribers=ZERO_CODE_SUBSCRIBERS)
    assert_hooks_fixed_everything(run, before_snapshot_hooks=False)
