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
HOOK_PAUSE_SECONDS = 1.0  # time for the test's requests to arrive and be held
process_state = {"loop": None, "reconnected": 0}


async def reconnect() -> int:
    await asyncio.to_thread(time.sleep, 0.01)
    return snapbus.generation()


@snapbus.after_restore(name="reconnect-on-the-loop")
def reconnect_on_the_loop():
    time.sleep(HOOK_PAUSE_SECONDS)
    future = asyncio.run_coroutine_threadsafe(reconnect(), process_state["loop"])
    process_state["reconnected"] = future.result(timeout=10)


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
        return {"pid": os.getpid(), "generation": snapbus.generation(), "reconnected": process_state["reconnected"]}

    return app
