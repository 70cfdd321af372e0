"""A Lambda runtime written against the documented Runtime API, for the emulator's tests.

usage: fake_runtime.py MODE
  echo         loop: next -> respond with {"echo": <event>, "handler": $_HANDLER, "arn": <the invoked ARN>}
  echo-sigterm echo, and on SIGTERM print "runtime: SIGTERM" and exit 0
  fail-when-asked  echo, but an event {"fail": true} gets invocation/error (HandlerFailed), after
               "failing <request id> at <time.monotonic()>" on stdout
  chatty       echo, first printing "says <event's say>" on stdout and "warns <say>" on stderr,
               and <event's pad> bytes of 'p' on a line of their own when it has one
  snapstart    restore/next first (SnapStart), then echo
  crash-init   exit 1 during Init
  init-error   post init/error with a stack trace, then exit 1 (as awslambdaric does)
  init-error-linger  post init/error, then ignore SIGTERM and sleep (a shutdown that takes its time)
  crash-invoke take one event, then exit 3 without answering
  stream-error stream two chunks, then end with an error trailer
  stream-big MIB  loop: stream MIB MiB of 'b' in 64 KiB chunks, as fast as the emulator takes them
  ticker FILE  start a child that appends a tick to FILE every 10 ms, then behave like snapstart
  worker-memory MIB  start a process that holds MIB MiB (as a server's worker would) and whose
               parent exits at once (as a daemon's does), then echo
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import time

import lambda_api_call  # beside this file

BASE = "/2018-06-01/runtime"
# What awslambdaric posts for a handler module that cannot be imported.
INIT_ERROR = {
    "errorMessage": "Unable to import module 'app': No module named 'missing'",
    "errorType": "Runtime.ImportModuleError",
    "requestId": "",
    "stackTrace": ["  File \"/var/task/app.py\", line 1, in <module>\n    import missing\n"],
}


def call(method, path, body=None, headers=None):
    return lambda_api_call.call(method, BASE + path, body, headers)


def echo_loop(chatty=False, failing=False):
    while True:
        status, headers, body = call("GET", "/invocation/next")
        if status != 200:
            sys.exit(10)
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(body)
        if chatty:
            print(f"says {event.get('say')}", flush=True)
            print(f"warns {event.get('say')}", file=sys.stderr, flush=True)
            if event.get("pad"):
                print("p" * event["pad"], flush=True)
        if failing and isinstance(event, dict) and event.get("fail"):
            print(f"failing {request_id} at {time.monotonic()}", flush=True)
            error = json.dumps({"errorMessage": "asked to fail", "errorType": "HandlerFailed"})
            call("POST", f"/invocation/{request_id}/error", error, {"Lambda-Runtime-Function-Error-Type": "HandlerFailed"})
            continue
        answer = json.dumps({"echo": event, "handler": os.environ.get("_HANDLER", ""),
                             "arn": headers["Lambda-Runtime-Invoked-Function-Arn"]})
        call("POST", f"/invocation/{request_id}/response", answer, {"Content-Type": "application/json"})


def stream_error():
    status, headers, body = call("GET", "/invocation/next")
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    conn = http.client.HTTPConnection(lambda_api_call.HOST, int(lambda_api_call.PORT), timeout=60)
    conn.putrequest("POST", f"{BASE}/invocation/{request_id}/response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    conn.endheaders()
    for piece in (b"first;", b"second;"):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    import base64
    err = base64.b64encode(json.dumps({"errorMessage": "boom", "errorType": "StreamBroke"}).encode())
    conn.send(b"0\r\nLambda-Runtime-Function-Error-Type: StreamBroke\r\nLambda-Runtime-Function-Error-Body: "
              + err + b"\r\n\r\n")
    conn.getresponse().read()
    echo_loop()


def stream_big(size):
    piece = b"b" * 65536
    while True:
        status, headers, body = call("GET", "/invocation/next")
        if status != 200:
            sys.exit(10)
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        conn = http.client.HTTPConnection(lambda_api_call.HOST, int(lambda_api_call.PORT), timeout=60)
        conn.putrequest("POST", f"{BASE}/invocation/{request_id}/response")
        conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for _ in range(size // len(piece)):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        conn.getresponse().read()
        conn.close()


def hold_worker(size):
    """Forks twice: the grandchild writes `size` bytes (resident, not only reserved) and says so,
    its parent exits, so that only the emulator (a child subreaper) is left above it. It lives until
    this process is gone."""
    held_r, held_w = os.pipe()
    life_r, life_w = os.pipe()
    if os.fork() == 0:
        if os.fork() == 0:
            os.close(held_r)
            os.close(life_w)
            held = b"w" * size
            os.write(held_w, b"held\n")
            os.read(life_r, 1)  # end of file once the runtime is gone
            del held
            os._exit(0)
        os._exit(0)
    os.close(held_w)
    os.close(life_r)
    os.wait()
    with os.fdopen(held_r, "rb") as said:
        if said.readline().strip() != b"held":
            sys.exit(11)


def main():
    mode = sys.argv[1]
    if mode == "echo":
        echo_loop()
    elif mode == "fail-when-asked":
        echo_loop(failing=True)
    elif mode == "chatty":
        echo_loop(chatty=True)
    elif mode == "echo-sigterm":
        def stop(signum, frame):
            print("runtime: SIGTERM", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        echo_loop()
    elif mode == "snapstart":
        call("GET", "/restore/next")
        echo_loop()
    elif mode == "crash-init":
        sys.exit(1)
    elif mode == "slow-init":
        time.sleep(float(sys.argv[2]))
        echo_loop()
    elif mode == "init-error":
        call("POST", "/init/error", json.dumps(INIT_ERROR), {"Lambda-Runtime-Function-Error-Type": INIT_ERROR["errorType"]})
        sys.exit(1)
    elif mode == "init-error-linger":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        call("POST", "/init/error", json.dumps(INIT_ERROR), {"Lambda-Runtime-Function-Error-Type": INIT_ERROR["errorType"]})
        time.sleep(600)
    elif mode == "crash-invoke":
        call("GET", "/invocation/next")
        sys.exit(3)
    elif mode == "stream-error":
        stream_error()
    elif mode == "stream-big":
        stream_big(int(sys.argv[2]) << 20)
    elif mode == "ticker":
        subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "ticker.py"), sys.argv[2]])
        # Init is not over before the child is ticking, so the freeze has something to stop.
        while not (os.path.exists(sys.argv[2]) and len(open(sys.argv[2]).read().split()) >= 3):
            time.sleep(0.01)
        call("GET", "/restore/next")
        echo_loop()
    elif mode == "worker-memory":
        hold_worker(int(sys.argv[2]) << 20)
        echo_loop()

if __name__ == "__main__":
    main()
