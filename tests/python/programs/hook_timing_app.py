"""A FastAPI app that records, per worker process, when its snapbus hooks ran and when it served
each request, so a test can tell whether every after-restore hook had finished before the first
request reached any worker. No SnapbusMiddleware on purpose: nothing in the app itself holds a
request back, so only the adapter (or the proxy) running the bracket can.

Each record is one JSON line appended to $APP_LOG: {"pid", "event", "t_ns" (CLOCK_MONOTONIC,
comparable across processes), "generation"}, event one of subscribed, after-restore (when the
hook ends), request.

    uvicorn hook_timing_app:app --workers 4
    GET /             {"pid", "generation", "hookGeneration"}
    GET /stream?chunks=N&gap_ms=M   N chunks "chunk <i>\\n", M ms apart
"""
import asyncio
import json
import os
import time

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

import snapbus

# Long enough that a request let through before the hooks ended would be seen as such.
HOOK_SECONDS = 0.3
hook_generation = 0


def record(event: str) -> None:
    line = json.dumps({"pid": os.getpid(), "event": event, "t_ns": time.monotonic_ns(),
                       "generation": snapbus.generation()})
    with open(os.environ["APP_LOG"], "a") as log:  # O_APPEND: whole lines from every worker
        log.write(line + "\n")


@snapbus.after_restore(name="slow-reseed")
def slow_reseed() -> None:
    global hook_generation
    time.sleep(HOOK_SECONDS)
    hook_generation = snapbus.generation()
    record("after-restore")


record("subscribed")
app = FastAPI()


@app.get("/")
def index() -> dict:
    record("request")
    return {"pid": os.getpid(), "generation": snapbus.generation(), "hookGeneration": hook_generation}


@app.get("/stream")
async def stream(chunks: int = 3, gap_ms: int = 0) -> StreamingResponse:
    record("request")

    async def pieces():
        for index in range(chunks):
            if index:
                await asyncio.sleep(gap_ms / 1000)
            yield f"chunk {index}\n".encode()

    return StreamingResponse(pieces(), media_type="text/plain")
