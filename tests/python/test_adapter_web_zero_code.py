"""The user story of the README end to end: an app that registers its hooks with Lambda's
snapshot_restore_py only (programs/legacy_app.py, four uvicorn workers), SNAPBUS_ZERO_CODE=1, and
the Python package taken from the layer alone: /opt/bootstrap puts the layer's python/ (the package,
and the sitecustomize that starts it) first on PYTHONPATH, every Python process of the function joins the bus before the app
is imported, and every worker's hooks run once per phase, before the first request."""
import re

import pytest

from adapter_web_harness import write_executable
from conftest import FAKE_RUNTIME, PROGRAMS, PYTHON

WORKERS = 4


# "replaces": some of LWA's examples start the server with PYTHONPATH=/opt/python:$LAMBDA_RUNTIME_DIR,
# which drops what /opt/bootstrap set; the layer's python/sitecustomize.py still starts zero-code mode.
@pytest.mark.parametrize("run_sh_pythonpath", ["kept", "replaces"])
def test_snapshot_restore_py_hooks_run_in_every_worker_with_the_layers_package(function, opt_dir, tmp_path,
                                                                              run_sh_pythonpath):
    root = tmp_path / "task"
    root.mkdir()
    replaced = f"PYTHONPATH='{opt_dir}/python:{FAKE_RUNTIME}' " if run_sh_pythonpath == "replaces" else ""
    write_executable(root / "run.sh", f"""#!/bin/sh
{replaced}exec {PYTHON} -m uvicorn legacy_app:app --app-dir '{PROGRAMS}' --host 127.0.0.1 --port "$AWS_LWA_PORT" \\
  --workers {WORKERS} --log-level warning
""")
    # PYTHONPATH holds the stand-in of the managed runtime's snapshot_restore_py and nothing of
    # snapbus: without the layer's package on the path no hook would ever run.
    function.start(root, {"SNAPBUS_ZERO_CODE": 1, "PYTHONPATH": FAKE_RUNTIME, "SNAPBUS_SUBSCRIBER_SETTLE_MS": 1000})
    with function.client(timeout=60) as client:
        answers = [client.get("/", headers={"connection": "close"}) for _ in range(6)]
    function.wait_restored()
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["before_snapshot_calls"] == 1 and body["after_restore_calls"] == 1, body

    status = function.status()
    assert status["state"]["generation"] == 1, status["state"]
    alive = [slot for slot in status["subscribers"] if slot["alive"]]
    # The four workers, and uvicorn's supervisor, which runs Python too.
    assert len(alive) >= WORKERS, status["subscribers"]
    assert all(slot["handled_generation"] == 1 and slot["outcome"] == "ok" for slot in alive), alive
    # The adapter's log lists every acknowledgement: four processes (the workers) ran one
    # after-restore hook each; the others (uvicorn's supervisor, multiprocessing's helper) have none.
    ran_hook = {m.group(1) for line in function.adapter_lines()
                if (m := re.search(r"restore:.*acked.*pid (\d+) .*ok \(1 hook run\)", line))}
    assert len(ran_hook) == WORKERS, "\n".join(function.adapter_lines())
    assert function.stop() == 0, function.output()
