"""The seed user's code unchanged: a FastAPI app whose only SnapStart code is
snapshot_restore_py.register_after_restore (tests/python/fake_runtime stands in for Lambda's
module), under uvicorn with 4 workers, in zero-code mode (SNAPBUS_ZERO_CODE=1: the layer's
bootstrap puts snapbus's startup directory on PYTHONPATH)."""
from scenario import WORKERS, assert_hooks_fixed_everything, run_scenario

# Zero-code mode subscribes a process at its first snapshot_restore_py registration: each worker once
# it has imported the app, never uvicorn's supervisor or multiprocessing's resource tracker. So the
# expected count is the number of workers, and reaching it means every worker has loaded the app.


def test_snapshot_restore_py_hooks_run_in_every_worker_without_code_changes(cli, opt, database, tmp_path):
    run = run_scenario(cli, opt, tmp_path, database, handler="run_uvicorn.sh", label="legacy fastapi, zero-code",
                       env={"APP": "legacy_app", "SNAPBUS_ZERO_CODE": "1"}, expect_subscribers=WORKERS)
    assert_hooks_fixed_everything(run, before_snapshot_hooks=False)
