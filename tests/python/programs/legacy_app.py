"""The user this project is for: a FastAPI app that registers its hooks with Lambda's
snapshot_restore_py only, and never mentions snapbus. Served by uvicorn with several workers,
in zero-code mode its hooks must run in every worker."""
import os
import secrets

from fastapi import FastAPI
from snapshot_restore_py import register_after_restore, register_before_snapshot

process_state = {"token": secrets.token_hex(16), "before_snapshot_calls": 0, "after_restore_calls": 0}


@register_before_snapshot
def before_snapshot():
    process_state["before_snapshot_calls"] += 1


@register_after_restore
def after_restore():
    process_state["token"] = secrets.token_hex(16)
    process_state["after_restore_calls"] += 1


app = FastAPI()


@app.get("/")
def index():
    return {"pid": os.getpid(), **process_state}
