#!/usr/bin/python3
"""A minimal custom Lambda runtime that serves the FastAPI example with snapbus driving SnapStart.

`snapbus emulate --snapstart` runs this as the function's runtime. It shows what the adapter does,
in the smallest form: start the web app, bracket the snapshot with `snapbus publish`, then turn each
Function URL event into an HTTP request to the app. Every uvicorn worker runs its own hooks; this
process only publishes and waits for their acknowledgements.

It is an illustration to run locally, not something to deploy. In Lambda a file run as the runtime
makes an OS-only runtime (`provided.*`), for which SnapStart is not offered, and its interpreter is
not /usr/bin/python3. Deploy the snapbus layer's adapter instead, and never beside this script: both
would take invocations from the Runtime API.

From the top of the repository, after setup.sh (the runtime runs in the task root, so its path is
absolute; the app's workers import the snapbus package built in build/default):

    snapbus=$PWD/build/default/cli/snapbus
    $snapbus emulate --snapstart --task-root examples/fastapi \
      --env SNAPBUS_BIN=$snapbus --env PYTHON=/usr/bin/python3 \
      --env PYTHONPATH=$PWD/build/default/bindings/python \
      -- /usr/bin/python3 $PWD/examples/lambda/bootstrap.py

Environment: AWS_LAMBDA_RUNTIME_API (set by Lambda), SNAPBUS_BIN (the snapbus executable, default
`snapbus` on PATH), APP_COMMAND (default `$LAMBDA_TASK_ROOT/run.sh`), AWS_LWA_PORT (the app's port,
default 8080), WORKERS (how many app processes run.sh starts, and so must join the bus before the
snapshot; default 4, run.sh's own default).
Exit codes follow the Python runtime client: 64 after a failed before-snapshot
hook, 65 after a failed after-restore hook.
"""
import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import time

RUNTIME_API = os.environ["AWS_LAMBDA_RUNTIME_API"]
SNAPBUS = os.environ.get("SNAPBUS_BIN", "snapbus")
APP_PORT = int(os.environ.get("AWS_LWA_PORT", "8080"))
APP_COMMAND = os.environ.get("APP_COMMAND", os.path.join(os.environ.get("LAMBDA_TASK_ROOT", "."), "run.sh"))
READINESS_TIMEOUT_S = 30


def log(message):
    print(f"[bootstrap] {message}", flush=True)


def runtime_call(method, path, body=None, headers=None):
    """One Runtime API call on a fresh connection: (status, headers, body bytes)."""
    connection = http.client.HTTPConnection(RUNTIME_API)
    try:
        connection.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def report_error(path, error_type, message):
    body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})
    runtime_call("POST", path, body, {"Lambda-Runtime-Function-Error-Type": error_type,
                                      "Content-Type": "application/json"})


def publish(phase, *options):
    """Runs `snapbus publish PHASE`; its report (who acked, what failed) goes to our log."""
    result = subprocess.run([SNAPBUS, "publish", phase, *options], capture_output=True, text=True)
    for line in (result.stdout + result.stderr).splitlines():
        log(f"publish {phase}: {line}")
    return result.returncode, (result.stdout + result.stderr).strip()


def wait_until_app_ready():
    deadline = time.monotonic() + READINESS_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", APP_PORT, timeout=1)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.01)  # LWA's readiness interval
    raise SystemExit(f"app did not answer on port {APP_PORT} within {READINESS_TIMEOUT_S} s")


def forward(event):
    """A payload 2.0 (Function URL) event to the app and back, on a new connection every time:
    a pooled connection from before the snapshot would be a dead socket after a restore."""
    http_context = event["requestContext"]["http"]
    target = event.get("rawPath", "/") + ("?" + event["rawQueryString"] if event.get("rawQueryString") else "")
    body = event.get("body") or ""
    payload = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = dict(event.get("headers") or {})
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    connection = http.client.HTTPConnection("127.0.0.1", APP_PORT, timeout=30)
    try:
        connection.request(http_context["method"], target, body=payload, headers=headers)
        response = connection.getresponse()
        content = response.read()
        return {"statusCode": response.status,
                "headers": {k.lower(): v for k, v in response.getheaders()},
                "body": base64.b64encode(content).decode(), "isBase64Encoded": True}
    finally:
        connection.close()


def main():
    # The segment exists before any worker starts; a new one, as /tmp is empty in each new environment
    # and a segment left by an earlier local run must not carry its generation over.
    code, report = publish("starting", "--fresh")
    if code != 0:
        report_error("init/error", "Runtime.InitError", report)
        return 1
    app = subprocess.Popen([APP_COMMAND], start_new_session=False)
    signal.signal(signal.SIGTERM, lambda *_: (app.terminate(), sys.exit(0)))
    wait_until_app_ready()
    log(f"app ready on port {APP_PORT}")

    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        # The app answering means one worker is ready, not all: wait until every worker has joined
        # the bus, or one still starting up would miss the bracket.
        code, report = publish("before-snapshot", "--expect-subscribers", os.environ.get("WORKERS", "4"))
        if code != 0:
            report_error("init/error", "Runtime.BeforeSnapshotError", report)
            return 64
        log("waiting in restore/next: the snapshot is taken now")
        runtime_call("GET", "restore/next")
        code, report = publish("restore")
        if code != 0:
            report_error("restore/error", "Runtime.AfterRestoreError", report)
            return 65
        log("restored; every worker's after-restore hooks have run")

    while True:
        status, headers, body = runtime_call("GET", "invocation/next")
        if status != 200:
            log(f"invocation/next answered {status}: {body[:200]!r}")
            return 1
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        try:
            result = forward(json.loads(body))
        except Exception as error:  # the app failed: report it, keep serving
            report_error(f"invocation/{request_id}/error", type(error).__name__, str(error))
            continue
        runtime_call("POST", f"invocation/{request_id}/response", json.dumps(result),
                     {"Content-Type": "application/json"})


if __name__ == "__main__":
    sys.exit(main())
