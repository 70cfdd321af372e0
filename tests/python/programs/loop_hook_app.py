"""An ASGI app whose after-restore hook hands work to the server's event loop and waits for it, as
an async database or HTTP client reconnects (a name lookup through loop.getaddrinfo, a blocking
call through asyncio.to_thread): both run on the loop's default executor, which the app keeps small
(POOL_THREADS), so that requests held while the hook runs must not each take one of its threads.

    uvicorn --factory loop_hook_app:make_app
"""
import asyncio
import concurrent.futures
import os
import time

import snapbus

POOL_THREADS = 4
HELD_REQUESTS = 12  # the hook waits (up to HOLD_PATIENCE_SECONDS) until this many are held
HOLD_PATIENCE_SECONDS = 10.0
process_state = {"loop": None, "reconnected": 0, "arrived": 0, "held_at_reconnect": 0}


async def reconnect() -> int:
    await asyncio.to_thread(time.sleep, 0.01)
    return snapbus.generation()


@snapbus.after_restore(name="reconnect-on-the-loop")
def reconnect_on_the_loop():
    give_up = time.monotonic() + HOLD_PATIENCE_SECONDS
    while process_state["arrived"] < HELD_REQUESTS and time.monotonic() < give_up:
        time.sleep(0.01)
    process_state["held_at_reconnect"] = process_state["arrived"]
    future = asyncio.run_coroutine_threadsafe(reconnect(), process_state["loop"])
    process_state["reconnected"] = future.result(timeout=10)


class CountArrivals:
    """Outside snapbus's middleware: counts the requests that came after the restore was published
    (held, or served once the hooks were done)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and snapbus.generation() >= 1:
            process_state["arrived"] += 1
        await self.app(scope, receive, send)


def make_app():
    from fastapi import FastAPI
    from snapbus.asgi import SnapbusMiddleware

    app = FastAPI()
    app.add_middleware(SnapbusMiddleware)

    @app.on_event("startup")
    async def keep_the_loop():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=POOL_THREADS))
        process_state["loop"] = loop

    @app.get("/state")
    async def state():
        return {"pid": os.getpid(), "generation": snapbus.generation(), "reconnected": process_state["reconnected"],
                "held_at_reconnect": process_state["held_at_reconnect"]}

    return CountArrivals(app)
