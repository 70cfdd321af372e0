"""The example FastAPI app (examples/fastapi/app.py) restored the way Lambda Web Adapter 1.1 does it:
its after-restore hooks run in one worker, the one that gets the POST to
AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH, rather than in every worker through the bus.

The baseline of the FastAPI restore benchmark (benchmarks/adapter_bench.cpp): the same app, the same
hook bodies, delivered by one HTTP POST. Started with SNAPBUS_SEGMENT naming a file that never
exists, so the app's own snapbus client stays detached and runs nothing.
"""
import os

import app as example

app = example.app


@app.post("/after-restore")
def after_restore() -> dict:
    example.reopen_pool()
    example.new_instance_token()
    return {"pid": os.getpid()}
