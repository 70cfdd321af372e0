"""The web adapter against a Runtime API that answers what Lambda may answer, served by this test: a
refusal of one invocation's answer (4xx) ends that invocation, not the environment; any 2xx accepts
it; a 5xx ends the adapter (the API's specification: "Runtime should exit promptly"); an event whose
Lambda-Runtime-Deadline-Ms is unusable is still served. The app is a real HTTP server (http.server).
"""
import http.server
import json
import signal
import threading

import pytest

from conftest import PROCESS_TIMEOUT, free_port, wait_until

EXIT_RUNTIME_API_FAILED = 5


class FakeRuntimeApi:
    """Hands out `events` (request id -> deadline header) in order, answers each response POST with
    the next status of `answers`, and records every call. After the events, next is held."""

    def __init__(self, events: list[tuple[str, str | None]], answers: list[int]):
        self.events = list(events)
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.no_more = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with api.lock:
                    api.calls.append(("GET", self.path))
                    event = api.events.pop(0) if api.events else None
                if event is None:
                    api.no_more.wait(PROCESS_TIMEOUT)
                    self.close_connection = True
                    return
                request_id, deadline = event
                headers = {"Lambda-Runtime-Aws-Request-Id": request_id,
                           "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                           "Content-Type": "application/json"}
                if deadline is not None:
                    headers["Lambda-Runtime-Deadline-Ms"] = deadline
                payload = {"version": "2.0", "rawPath": "/hello", "rawQueryString": "", "headers": {},
                           "requestContext": {"http": {"method": "GET", "path": "/hello"}}, "isBase64Encoded": False}
                self.reply(200, json.dumps(payload).encode(), headers)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with api.lock:
                    api.calls.append(("POST", self.path))
                    status = api.answers.pop(0) if api.answers else 202
                error = {"errorType": "InvalidStateTransition", "errorMessage": f"refused {len(body)} bytes"}
                body = json.dumps(error).encode() if status >= 400 else b'{"status":"OK"}'
                self.reply(status, b"" if status == 204 else body, {"Content-Type": "application/json"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def posts(self) -> list[str]:
        with self.lock:
            return [path for method, path in self.calls if method == "POST"]

    def close(self):
        self.no_more.set()
        self.server.shutdown()
        self.server.server_close()


class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def app_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), App)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def run_adapter(cli, processes, tmp_path, api: FakeRuntimeApi, app_port: int):
    env = processes.env(segment=tmp_path / "adapter.seg", AWS_LAMBDA_RUNTIME_API=api.address, AWS_LWA_PORT=app_port,
                        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand")
    return processes.start([str(cli), "adapter"], env)


@pytest.mark.parametrize("refusal", [400, 403, 413])
def test_a_refused_answer_ends_the_invocation_not_the_adapter(cli, processes, tmp_path, app_port, refusal):
    api = FakeRuntimeApi([("req-1", "4102444800000"), ("req-2", "4102444800000")], answers=[refusal, 202])
    try:
        adapter = run_adapter(cli, processes, tmp_path, api, app_port)
        posts = wait_until(lambda: len(api.posts()) >= 2 and api.posts(), PROCESS_TIMEOUT, "both answers")
        assert posts == ["/2018-06-01/runtime/invocation/req-1/response",
                         "/2018-06-01/runtime/invocation/req-2/response"], posts
        assert adapter.poll() is None, processes.stderr_of(adapter)
        adapter.send_signal(signal.SIGTERM)
        assert adapter.wait(PROCESS_TIMEOUT) == 0
        log = processes.stderr_of(adapter)
        assert f"the Runtime API refused the invocation's answer: POST /2018-06-01/runtime/invocation/req-1/response: {refusal}" in log, log
    finally:
        api.close()


def test_any_2xx_accepts_an_answer_and_an_unusable_deadline_is_still_served(cli, processes, tmp_path, app_port):
    api = FakeRuntimeApi([("req-1", "soon"), ("req-2", None)], answers=[200, 204])
    try:
        adapter = run_adapter(cli, processes, tmp_path, api, app_port)
        wait_until(lambda: len(api.posts()) >= 2, PROCESS_TIMEOUT, "both answers")
        # The adapter asked for a third event: it took both answers as accepted.
        wait_until(lambda: sum(1 for method, _ in api.calls if method == "GET") >= 3, PROCESS_TIMEOUT, "a third next")
        assert adapter.poll() is None, processes.stderr_of(adapter)
        adapter.send_signal(signal.SIGTERM)
        assert adapter.wait(PROCESS_TIMEOUT) == 0
        assert "refused" not in processes.stderr_of(adapter)
    finally:
        api.close()


def test_a_5xx_ends_the_adapter(cli, processes, tmp_path, app_port):
    api = FakeRuntimeApi([("req-1", "4102444800000")], answers=[500])
    try:
        adapter = run_adapter(cli, processes, tmp_path, api, app_port)
        assert adapter.wait(PROCESS_TIMEOUT) == EXIT_RUNTIME_API_FAILED, processes.stderr_of(adapter)
        assert "invocation/req-1/response: 500" in processes.stderr_of(adapter)
    finally:
        api.close()


class GatheringApp(http.server.BaseHTTPRequestHandler):
    """Holds each request for /hello (the events' path) until the barrier's parties are in at once
    (or it gives up after 10 s), and records the most it held together. The readiness check's GET /
    is answered at once."""
    protocol_version = "HTTP/1.1"
    barrier: threading.Barrier
    lock = threading.Lock()
    inside = 0
    most = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        if self.path != "/hello":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with cls.lock:
            cls.inside += 1
            cls.most = max(cls.most, cls.inside)
        try:
            cls.barrier.wait(10)
            status = 200
        except threading.BrokenBarrierError:
            status = 504
        with cls.lock:
            cls.inside -= 1
        body = b"together" if status == 200 else b"alone"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_lambda_managed_instances_concurrency_forwards_invocations_side_by_side(cli, processes, tmp_path):
    """With AWS_LAMBDA_MAX_CONCURRENCY=3 (what Lambda Managed Instances sets), three invocations reach
    the app at once, as under LWA 1.0: the app answers only once all three are in."""
    GatheringApp.barrier = threading.Barrier(3)
    app = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), GatheringApp)
    app.daemon_threads = True
    threading.Thread(target=app.serve_forever, daemon=True).start()
    api = FakeRuntimeApi([(f"req-{n}", "4102444800000") for n in range(1, 4)], answers=[])
    try:
        env = processes.env(segment=tmp_path / "adapter.seg", AWS_LAMBDA_RUNTIME_API=api.address,
                            AWS_LWA_PORT=app.server_address[1], AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
                            AWS_LAMBDA_MAX_CONCURRENCY=3)
        adapter = processes.start([str(cli), "adapter"], env)
        posts = wait_until(lambda: len(api.posts()) >= 3 and api.posts(), PROCESS_TIMEOUT, "three answers")
        assert sorted(posts) == [f"/2018-06-01/runtime/invocation/req-{n}/response" for n in range(1, 4)], posts
        assert GatheringApp.most == 3, f"at most {GatheringApp.most} requests reached the app at once"
        adapter.send_signal(signal.SIGTERM)
        assert adapter.wait(PROCESS_TIMEOUT) == 0, processes.stderr_of(adapter)
        assert "waiting for invocations, 3 at once (AWS_LAMBDA_MAX_CONCURRENCY)" in processes.stderr_of(adapter)
    finally:
        api.close()
        app.shutdown()
        app.server_close()
