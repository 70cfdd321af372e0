"""A FastAPI app with the two things a SnapStart restore breaks, kept right by snapbus hooks in
every uvicorn worker.

- ``pool``: shaped like a database pool. Connections opened before the snapshot would be dead
  sockets after a restore, so it is closed before the snapshot and reopened after each restore.
- ``instance_token``: a per-process unique value (think request-id prefix, random seed). Every
  restored copy of a snapshot would share it, so each process draws a new one after a restore.

At shutdown each worker closes its pool once.

SnapbusMiddleware makes sure no request sees the old values: a request that arrives while a
worker's hooks are still running waits for them.
"""
import os
import secrets
import sys
import threading

from fastapi import FastAPI

import snapbus
from snapbus.asgi import SnapbusMiddleware


class ConnectionPool:
    """A stand-in for a database pool: opens `size` connections, each tied to this process."""

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self.connections: list[str] = []
        self.opened_at_generation = -1
        self.open()

    def open(self) -> None:
        with self._lock:
            self.connections = [f"conn-{os.getpid()}-{secrets.token_hex(4)}" for _ in range(self.size)]
            self.opened_at_generation = snapbus.generation()

    def close(self) -> None:
        with self._lock:
            self.connections = []

    def describe(self) -> dict:
        with self._lock:
            return {"open": bool(self.connections), "connections": list(self.connections),
                    "opened_at_generation": self.opened_at_generation}


pool = ConnectionPool(size=int(os.environ.get("POOL_SIZE", "2")))
instance_token = secrets.token_hex(16)


@snapbus.before_snapshot(name="close-pool")
def close_pool() -> None:
    pool.close()


@snapbus.after_restore(name="reopen-pool")
def reopen_pool() -> None:
    pool.open()


# Once per worker as the function stops: when Lambda's SIGTERM makes the worker exit, or at
# shutting-down if it is still running then.
@snapbus.on_shutdown(name="close-pool-at-shutdown")
def close_pool_at_shutdown() -> None:
    pool.close()
    sys.stderr.write(f"worker pid {os.getpid()}: shutdown: pool closed\n")  # one write: workers share stderr
    sys.stderr.flush()


@snapbus.after_restore(name="new-instance-token")
def new_instance_token() -> None:
    global instance_token
    instance_token = secrets.token_hex(16)


app = FastAPI()
app.add_middleware(SnapbusMiddleware)


@app.get("/")
def index() -> dict:
    state = snapbus.state()
    return {"pid": os.getpid(), "instance_token": instance_token, "pool": pool.describe(),
            "generation": snapbus.generation(), "restore_id": state.restore_id,
            "phase": getattr(state.phase, "name", state.phase)}
