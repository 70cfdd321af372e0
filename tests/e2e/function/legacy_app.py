"""The seed user's FastAPI app as it was written for Lambda's managed runtime: its only SnapStart
code is a snapshot_restore_py hook. It does not know snapbus; zero-code mode runs the hook in
every uvicorn worker."""
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from snapshot_restore_py import register_after_restore

from pool_worker import PoolWorker

worker = PoolWorker()
register_after_restore(worker.after_restore)
app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/work")
def work() -> JSONResponse:
    status, body = worker.serve()
    return JSONResponse(body, status_code=status, headers={"connection": "close"})
