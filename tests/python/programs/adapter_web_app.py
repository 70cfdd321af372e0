"""The app behind the adapter's end-to-end tests (tests/python/test_adapter_web_*.py): FastAPI under
uvicorn with several workers, run as a Lambda function by `snapbus emulate` through the adapter.

Every worker appends JSON lines to $APP_LOG: when it subscribed, when its hooks ran, when each
request arrived, stamped with time.monotonic_ns() (one clock for every process of the machine, and
it keeps running while the function is frozen), so a test can prove the order of events across
processes. A role only one worker should take (the one whose hook fails or hangs, the one that
starts late) is claimed with an exclusive file in $APP_STATE_DIR.

Deliberately without snapbus.asgi.SnapbusMiddleware: a request that reached a worker before its
after-restore hooks would be held back by the middleware and the test could not see the adapter's
mistake. The arrival time is taken before any routing.

Environment: APP_LOG, APP_STATE_DIR (required); APP_HOOK_S (after-restore hook duration, default
0.2); APP_LATE_S (one worker sleeps this long before it imports snapbus); APP_FAIL_HOOK=1 (one
worker's after-restore hook raises); APP_FAIL_BEFORE_HOOK=1 (one worker's before-snapshot hook
raises); APP_HANG_HOOK=1 (one worker's after-restore hook never returns); APP_HEALTH_STATUS (status
of /healthz, default 200); APP_LWA_BEFORE_STATUS and APP_LWA_AFTER_STATUS (status of the LWA 1.1
SnapStart POSTs, default 200); APP_LWA_AFTER_S (how long the after-restore POST takes, default 0).
"""
import asyncio
import base64
import hashlib
import json
import os
import pathlib
import random
import time
import urllib.parse

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.background import BackgroundTask

LOG_PATH = os.environ["APP_LOG"]
STATE_DIR = pathlib.Path(os.environ["APP_STATE_DIR"])
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def record(event: str, **fields) -> int:
    """One line in the shared log; a single O_APPEND write, so lines of processes never mix."""
    now = time.monotonic_ns()
    line = json.dumps({"event": event, "pid": os.getpid(), "t": now, **fields}) + "\n"
    fd = os.open(LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return now


def claim(role: str) -> bool:
    """True in exactly one process of the function: the first that asks."""
    try:
        os.close(os.open(STATE_DIR / f"role-{role}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    record("role", role=role)
    return True


if os.environ.get("APP_LATE_S") and claim("late"):
    # Before snapbus is imported (and after FastAPI, whose import time varies with the load): this
    # worker has no slot yet while the others are subscribed, for about APP_LATE_S.
    time.sleep(float(os.environ["APP_LATE_S"]))

import snapbus  # noqa: E402  (after the late worker's sleep, on purpose)

HOOK_SECONDS = float(os.environ.get("APP_HOOK_S", "0.2"))


@snapbus.before_snapshot(name="record-before-snapshot")
def record_before_snapshot() -> None:
    record("before_snapshot", generation=snapbus.generation())


# Lambda stops the app (SIGTERM) before the adapter hears SHUTDOWN: this runs as the worker exits.
@snapbus.on_shutdown(name="record-shutdown")
def record_shutdown() -> None:
    record("shutdown", phase=snapbus.state().phase.name)


@snapbus.after_restore(name="record-after-restore")
def record_after_restore() -> None:
    # Slow on purpose: a request forwarded before the hooks were acknowledged arrives in between.
    record("after_restore_start", generation=snapbus.generation())
    time.sleep(HOOK_SECONDS)
    record("after_restore_end", generation=snapbus.generation())


if os.environ.get("APP_FAIL_BEFORE_HOOK") == "1" and claim("fail-before"):
    @snapbus.before_snapshot(name="failing-before-hook")
    def failing_before_hook() -> None:
        raise RuntimeError("deliberate failure of the test app's before-snapshot hook")

if os.environ.get("APP_FAIL_HOOK") == "1" and claim("fail"):
    @snapbus.after_restore(name="failing-hook")
    def failing_hook() -> None:
        raise RuntimeError("deliberate failure of the test app's after-restore hook")

if os.environ.get("APP_HANG_HOOK") == "1" and claim("hang"):
    @snapbus.after_restore(name="hanging-hook")
    def hanging_hook() -> None:
        record("hang_start")
        time.sleep(120)

record("subscribed")

app = FastAPI()


@app.middleware("http")
async def record_arrival(request: Request, call_next):
    client = request.scope.get("client") or ("", 0)
    request.state.arrival = record("request", path=request.url.path, method=request.method,
                                   client_port=client[1], generation=snapbus.generation())
    return await call_next(request)


@app.get("/healthz")
def healthz() -> Response:
    return PlainTextResponse("ok", status_code=int(os.environ.get("APP_HEALTH_STATUS", "200")))


@app.post("/lwa/before-checkpoint")
def lwa_before_checkpoint() -> Response:
    record("lwa_before_checkpoint", generation=snapbus.generation())
    return PlainTextResponse("", status_code=int(os.environ.get("APP_LWA_BEFORE_STATUS", "200")))


@app.post("/lwa/after-restore")
def lwa_after_restore() -> Response:
    record("lwa_after_restore", generation=snapbus.generation())
    time.sleep(float(os.environ.get("APP_LWA_AFTER_S", "0")))
    return PlainTextResponse("", status_code=int(os.environ.get("APP_LWA_AFTER_STATUS", "200")))


async def block_event_loop(seconds: float) -> None:
    time.sleep(seconds)  # blocking on purpose: the event loop stands still


@app.get("/whoami")
async def whoami(request: Request, spread_ms: int = 0) -> Response:
    """Who answered, and when the request arrived. spread_ms: after answering, this worker stops
    accepting connections for that long (its event loop is blocked), so the next new connection
    goes to another worker; the answer closes its connection for the same reason."""
    body = {"pid": os.getpid(), "generation": snapbus.generation(), "arrival": request.state.arrival}
    if not spread_ms:
        return JSONResponse(body)
    # An async background task runs on the event loop after the response was sent: a blocking
    # sleep there keeps this worker out of accept().
    return JSONResponse(body, headers={"connection": "close"},
                        background=BackgroundTask(block_event_loop, spread_ms / 1000))


@app.post("/events")
async def pass_through(request: Request) -> Response:
    payload = await request.body()
    record("pass_through", size=len(payload))
    return JSONResponse({"passThrough": True, "contentType": request.headers.get("content-type"),
                         "traceId": request.headers.get("x-amzn-trace-id"),
                         "tenantId": request.headers.get("x-amz-tenant-id"), "received": json.loads(payload)})


@app.get("/large")
def large(size: int = 5_000_000) -> Response:
    text = text_of(size)
    return PlainTextResponse(text, headers={"x-sha256": hashlib.sha256(text.encode()).hexdigest()})


def text_of(size: int) -> str:
    """Deterministic printable text, with a line number every 64 bytes (a shifted or dropped
    piece shows)."""
    line_text = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[:47] + "\n"
    return "".join(f"{n:016d}{line_text}" for n in range(size // 64 + 1))[:size]


@app.get("/large-stream")
def large_stream(size: int = 5_000_000, chunk: int = 65536) -> Response:
    text = text_of(size).encode()

    def pieces():
        for start in range(0, len(text), chunk):
            yield text[start:start + chunk]

    return StreamingResponse(pieces(), media_type="text/plain", headers={"x-sha256": hashlib.sha256(text).hexdigest()})


def binary_of(size: int) -> bytes:
    """A PNG signature, then bytes of every value (NULs and invalid UTF-8 included)."""
    return PNG_SIGNATURE + random.Random(size).randbytes(size - len(PNG_SIGNATURE))


@app.get("/binary")
def binary(size: int = 200_000, stream: int = 0) -> Response:
    data = binary_of(size)
    headers = {"x-sha256": hashlib.sha256(data).hexdigest()}
    if stream:
        return StreamingResponse(iter([data[:size // 2], data[size // 2:]]), media_type="image/png", headers=headers)
    return Response(data, media_type="image/png", headers=headers)


@app.get("/stream")
async def stream(n: int = 5, acks: str = "") -> Response:
    """n chunks "chunk-<k> <monotonic ns>\\n". With acks (a directory), chunk k+1 is only sent
    after the test created acks/ack-<k>, which it can only do once it received chunk k: the proof
    that nothing on the way held a chunk back. A missing ack (5 s) ends the stream with "no-ack-<k>"."""
    async def chunks():
        for k in range(n):
            yield f"chunk-{k} {time.monotonic_ns()}\n"
            if acks and k + 1 < n:
                ack = pathlib.Path(acks) / f"ack-{k}"
                deadline = time.monotonic() + 5
                while not ack.exists():
                    if time.monotonic() > deadline:
                        yield f"no-ack-{k}\n"
                        return
                    await asyncio.sleep(0.005)

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/slow")
async def slow(seconds: float = 1.0, stream: int = 0) -> Response:
    """Nothing at all (not even the status line) for `seconds`."""
    await asyncio.sleep(seconds)
    if stream:
        return StreamingResponse(iter([b"slow-", b"stream"]), media_type="text/plain")
    return PlainTextResponse("slow-body")


@app.get("/die")
async def die(stream: int = 0) -> Response:
    """The worker exits in the middle of its response body."""
    if stream:
        async def chunks():
            for k in range(3):
                yield f"chunk-{k}\n"
                await asyncio.sleep(0.05)
            os._exit(3)

        return StreamingResponse(chunks(), media_type="text/plain")
    return DyingResponse()


class DyingResponse(Response):
    """Announces 100000 bytes, sends half, then the process exits."""

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"100000")]})
        await send({"type": "http.response.body", "body": b"x" * 50000, "more_body": True})
        await asyncio.sleep(0.05)  # let the half go out first
        os._exit(3)


@app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def echo(request: Request, rest: str) -> Response:
    """Everything the app was told: method, raw path and query, every header as sent, the body.
    Answers with the status the request's x-status header asks for, a header and two cookies."""
    body = await request.body()
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    response = JSONResponse({
        "pid": os.getpid(),
        "method": request.method,
        "path": raw_path.decode("latin-1"),
        "query": request.scope["query_string"].decode("latin-1"),
        "queryPairs": urllib.parse.parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]],
        "body": base64.b64encode(body).decode(),
    }, status_code=int(request.headers.get("x-status", "200")))
    response.headers["x-echo"] = "yes"
    response.set_cookie("first", "1")
    response.set_cookie("second", "2")
    return response
