"""The scenario's FastAPI app (uvicorn, several workers): each worker's pool and token are kept
right across a restore by snapbus hooks. With SCENARIO_HOOKS=off it still subscribes, so the
adapter's bracket is the same, but registers no hook."""
from fastapi import FastAPI
from fastapi.responses import JSONResponse

import snapbus
from pool_worker import PoolWorker, hooks_enabled
from snapbus.asgi import SnapbusMiddleware

worker = PoolWorker()
app = FastAPI()

if hooks_enabled():
    snapbus.before_snapshot(worker.before_snapshot, name="close-pool")
    snapbus.after_restore(worker.after_restore, name="reopen-pool")
    app.add_middleware(SnapbusMiddleware)
else:
    snapbus.start()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/work")
def work() -> JSONResponse:
    status, body = worker.serve()
    # A new connection for each request, so that uvicorn's workers share the adapter's requests
    # (a kept-alive connection would stay with one worker).
    return JSONResponse(body, status_code=status, headers={"connection": "close"})
