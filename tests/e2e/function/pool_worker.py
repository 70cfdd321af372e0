"""What a SnapStart restore breaks in one web-server worker, shared by every app of the scenario:
a SQLAlchemy/psycopg2 connection pool to PostgreSQL and a per-process unique token.

The pool is opened and used at import (Init warms it), and `pool_pre_ping` stays off, as in most
apps: with it, SQLAlchemy would test each connection on checkout and hide the dead ones the
snapshot left behind. Nothing here imports snapbus; each app decides which hooks call
`before_snapshot` and `after_restore`.

Every event is one JSON line in $SCENARIO_RECORDS/<pid>.jsonl (one file per process, so lines
never interleave), with CLOCK_MONOTONIC nanoseconds, which every process shares: the test reads
them to check each worker's hooks and first request, including workers it never reached.
"""
import json
import os
import pathlib
import secrets
import time

import sqlalchemy
from sqlalchemy import exc


class PoolWorker:
    def __init__(self) -> None:
        self.engine = sqlalchemy.create_engine(
            os.environ["DATABASE_URL"], pool_size=2, max_overflow=0, pool_pre_ping=False, pool_timeout=10,
            connect_args={"connect_timeout": 5})
        self.records = pathlib.Path(os.environ["SCENARIO_RECORDS"]) / f"{os.getpid()}.jsonl"
        self.token = secrets.token_hex(16)
        self.record("init", token=self.token, backend=self.backend_pid())

    def record(self, event: str, **fields) -> None:
        line = json.dumps({"event": event, "pid": os.getpid(), "t": time.monotonic_ns(), **fields})
        with open(self.records, "a") as out:
            out.write(line + "\n")

    def backend_pid(self) -> int:
        """One query on a pooled connection: the PostgreSQL backend that serves this worker."""
        with self.engine.connect() as connection:
            return connection.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one()

    def before_snapshot(self) -> None:
        self.engine.dispose()
        self.record("before_snapshot")

    def after_restore(self) -> None:
        # The pooled connections died with the snapshot (here: PostgreSQL restarted during the
        # freeze); drop them, draw a token of this copy's own, and warm the pool again.
        self.engine.dispose()
        self.token = secrets.token_hex(16)
        self.record("after_restore", token=self.token, backend=self.backend_pid())

    def serve(self) -> tuple[int, dict]:
        """One request's work: (HTTP status, JSON body). A database error is a 500 that says
        whether SQLAlchemy saw a dead connection."""
        started = time.monotonic_ns()
        body = {"pid": os.getpid(), "token": self.token}
        try:
            body["backend"] = self.backend_pid()
            status = 200
        except exc.DBAPIError as error:
            body["error"] = f"{type(error.orig).__name__}: {str(error.orig).strip()}"
            body["stale_connection"] = error.connection_invalidated
            status = 500
        self.record("request", request_started=started, status=status, **body)
        return status, body


def hooks_enabled() -> bool:
    """SCENARIO_HOOKS=off: the same app without its hooks, the failure snapbus fixes."""
    return os.environ.get("SCENARIO_HOOKS", "on") != "off"
