"""The scenario's Flask app (gunicorn, several sync workers): each worker's pool and token are kept
right across a restore by snapbus hooks. With SCENARIO_HOOKS=off it still subscribes, so the
adapter's bracket is the same, but registers no hook."""
from flask import Flask

import snapbus
from pool_worker import PoolWorker, hooks_enabled
from snapbus.wsgi import SnapbusMiddleware

worker = PoolWorker()
app = Flask(__name__)

if hooks_enabled():
    snapbus.before_snapshot(worker.before_snapshot, name="close-pool")
    snapbus.after_restore(worker.after_restore, name="reopen-pool")
    app.wsgi_app = SnapbusMiddleware(app.wsgi_app)
else:
    snapbus.start()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/work")
def work():
    status, body = worker.serve()
    return body, status
