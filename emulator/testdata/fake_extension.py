"""An external extension written against the documented Extensions API, for the emulator's tests.

Registers under its file name (or the name given as its first argument) for INVOKE and SHUTDOWN,
subscribes to the Telemetry API as many real extensions do during Init (and exits 1, failing Init,
if that is refused), then waits in event/next until SHUTDOWN. Each event's type goes to stdout.
With `linger` as its second argument it never finishes its SHUTDOWN work: it ignores SIGTERM and
sleeps until it is killed.
"""
import json
import os
import signal
import sys
import time

from lambda_api_call import call  # beside this file


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else os.path.basename(sys.argv[0])
    status, headers, body = call("POST", "/2020-01-01/extension/register",
                                 json.dumps({"events": ["INVOKE", "SHUTDOWN"]}), {"Lambda-Extension-Name": name})
    if status != 200:
        print(f"{name}: register answered {status} {body!r}", flush=True)
        sys.exit(1)
    identifier = headers["Lambda-Extension-Identifier"]
    status, _, body = call("PUT", "/2022-07-01/telemetry", json.dumps({"schemaVersion": "2022-12-13"}),
                           {"Lambda-Extension-Identifier": identifier})
    if status // 100 != 2:
        print(f"{name}: the Telemetry API answered {status} {body!r}", flush=True)
        sys.exit(1)
    while True:
        status, _, body = call("GET", "/2020-01-01/extension/event/next",
                               headers={"Lambda-Extension-Identifier": identifier}, timeout=600)
        if status != 200:
            sys.exit(2)
        event = json.loads(body)
        print(f"{name}: {event['eventType']}", flush=True)
        if event["eventType"] == "SHUTDOWN":
            if sys.argv[2:3] == ["linger"]:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                time.sleep(600)
            return


if __name__ == "__main__":
    main()
