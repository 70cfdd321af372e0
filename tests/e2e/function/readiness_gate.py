"""Readiness for a server whose workers load the app at their own pace: copies the server's log
(stdin) to stderr, and opens a TCP listener on the given port once `workers` lines said
"Application startup complete." (uvicorn logs it in each worker, after importing the app). The
adapter's readiness check (AWS_LWA_READINESS_CHECK_PROTOCOL=tcp on that port) then passes only when
every worker has loaded the app, so no snapshot is taken while one still imports it.

Run with `python3 -I`: zero-code mode does not reach it, so it never subscribes to the bus.

    readiness_gate.py <port> <workers>   (stdin: the server's log)
"""
import socket
import sys


def main(port: int, workers: int) -> None:
    started = 0
    listener = None
    for line in sys.stdin:
        sys.stderr.write(line)
        sys.stderr.flush()
        if "Application startup complete." in line:
            started += 1
            if started == workers:
                listener = socket.create_server(("127.0.0.1", port))
    if listener:
        listener.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
