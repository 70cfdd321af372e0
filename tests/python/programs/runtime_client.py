"""A minimal custom runtime for the proxy tests: a Runtime API client that never calls
restore/next, as most clients do not (with RUNTIME_CLIENT_RESTORE_NEXT=1 in a snap-start
environment, it does, first). It talks to $AWS_LAMBDA_RUNTIME_API (the proxy when the exec
wrapper started it in proxy mode, the emulator itself otherwise) and answers each event by what
the event asks for:

    {"kind": "echo", ...}                            the event itself, buffered
    {"kind": "error", "errorType": T, ...}           invocation/error, typed T
    {"kind": "large", "size": N}                     N bytes buffered (over 6 MB: the API answers 413)
    {"kind": "stream", "chunks": [...], "acks": DIR}  a streamed response, one chunk per write
    {"kind": "stream-error", "chunks": [...], "errorType": T, "declareTrailers": bool}
                                                     the same, ended by the two error trailers

With "acks", chunk k+1 is only sent once the caller created DIR/ack-<k>, which it can only do once
it received chunk k: the proof that nothing on the way held a chunk back. A missing ack (5 s)
ends the stream with the chunk "no-ack-<k>".

Anything that is not such a JSON object is echoed. With $RUNTIME_CLIENT_LOG set, it appends one
JSON line per event it received: {"pid", "event": "next", "t_ns" (CLOCK_MONOTONIC), "requestId",
"api" (the Runtime API address it used)}.
"""
import base64
import http.client
import json
import os
import socket
import time

RUNTIME = "/2018-06-01/runtime"
STREAMED_ERROR_TRAILERS = "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"


def log_event(api: str, request_id: str) -> None:
    path = os.environ.get("RUNTIME_CLIENT_LOG")
    if not path:
        return
    line = json.dumps({"pid": os.getpid(), "event": "next", "t_ns": time.monotonic_ns(), "requestId": request_id,
                       "api": api})
    with open(path, "a") as log:
        log.write(line + "\n")


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def post_buffered(api: str, path: str, body: bytes, headers: dict, accepted=(202,)) -> None:
    connection = http.client.HTTPConnection(api, timeout=30)
    connection.request("POST", path, body=body, headers=headers)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    if answer.status not in accepted:
        raise SystemExit(f"runtime client: POST {path} answered {answer.status}")


def acknowledged(acks: str, index: int) -> bool:
    deadline = time.monotonic() + 5
    while not os.path.exists(os.path.join(acks, f"ack-{index}")):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def post_streamed(api: str, request_id: str, event: dict) -> None:
    """Chunked by hand: http.client cannot send trailers."""
    host, port = api.rsplit(":", 1)
    error_type = event.get("errorType") if event["kind"] == "stream-error" else None
    head = [f"POST {RUNTIME}/invocation/{request_id}/response HTTP/1.1", f"Host: {api}",
            "Lambda-Runtime-Function-Response-Mode: streaming",
            f"Content-Type: {event.get('contentType', 'text/plain')}", "Transfer-Encoding: chunked"]
    if error_type and event.get("declareTrailers", True):
        head.append(f"Trailer: {STREAMED_ERROR_TRAILERS}")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for index, chunk in enumerate(event["chunks"]):
            if index and "acks" in event and not acknowledged(event["acks"], index - 1):
                chunk = f"no-ack-{index - 1}"
            data = chunk.encode()
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            if chunk.startswith("no-ack-"):
                break
        trailers = b""
        if error_type:
            encoded = base64.b64encode(error_body(error_type, "failed mid-stream")).decode()
            trailers = (f"Lambda-Runtime-Function-Error-Type: {error_type}\r\n"
                        f"Lambda-Runtime-Function-Error-Body: {encoded}\r\n").encode()
        sock.sendall(b"0\r\n" + trailers + b"\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            got = sock.recv(65536)
            if not got:
                break
            answer += got
    if not answer.startswith(b"HTTP/1.1 202"):
        raise SystemExit(f"runtime client: the streamed response was answered {answer[:80]!r}")


def answer(api: str, request_id: str, payload: bytes) -> None:
    try:
        event = json.loads(payload)
    except ValueError:
        event = None
    kind = event.get("kind") if isinstance(event, dict) else None
    invocation = f"{RUNTIME}/invocation/{request_id}"
    if kind == "error":
        error_type = event["errorType"]
        post_buffered(api, f"{invocation}/error", error_body(error_type, event.get("message", "it failed")),
                      {"Lambda-Runtime-Function-Error-Type": error_type, "Content-Type": "application/json"})
    elif kind == "large":
        post_buffered(api, f"{invocation}/response", b"x" * event["size"], {"Content-Type": "text/plain"},
                      accepted=(202, 413))
    elif kind in ("stream", "stream-error"):
        post_streamed(api, request_id, event)
    else:
        post_buffered(api, f"{invocation}/response", payload, {"Content-Type": "application/json"})


def main() -> None:
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    connection = http.client.HTTPConnection(api)  # no timeout: invocation/next is a long poll
    if os.environ.get("RUNTIME_CLIENT_RESTORE_NEXT") == "1" and \
            os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        connection.request("GET", f"{RUNTIME}/restore/next")
        restored = connection.getresponse()
        restored.read()
        if restored.status != 200:
            raise SystemExit(f"runtime client: restore/next answered {restored.status}")
    while True:
        connection.request("GET", f"{RUNTIME}/invocation/next")
        event = connection.getresponse()
        payload = event.read()
        if event.status != 200:
            raise SystemExit(f"runtime client: invocation/next answered {event.status}: {payload[:200]!r}")
        request_id = event.getheader("Lambda-Runtime-Aws-Request-Id")
        log_event(api, request_id)
        answer(api, request_id, payload)


if __name__ == "__main__":
    main()
