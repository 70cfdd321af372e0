"""Requests and buffered responses through the adapter (AWS_LWA_INVOKE_MODE unset), through the
emulator's Function URL front door: everything about the request reaches the app, large, binary
and slow answers come back whole, an app that dies in the middle of its body gives an error
answer, and an app that never becomes ready fails Init."""
import base64
import hashlib
import json
import time
import urllib.parse

from adapter_web_harness import write_executable

EXIT_INIT_FAILED = 3


def headers_of(echo: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in echo["headers"]:
        found.setdefault(name.lower(), []).append(value)
    return found


def assert_text_of(body: bytes, size: int) -> None:
    """The app's /large text: 64-byte lines, each starting with its number."""
    assert len(body) == size
    for number in range(0, size // 64, 997):
        assert body[number * 64:number * 64 + 16] == b"%016d" % number, f"line {number} is not where it belongs"


def test_the_app_gets_method_path_query_headers_cookies_body_and_both_contexts(function, task_root):
    function.start(task_root, {"WORKERS": 1})
    body = bytes(range(256)) * 4
    with function.client(timeout=60) as client:
        response = client.put("/echo/a%20b/c", params=[("x", "1"), ("x", "2"), ("y", "z z")], content=body,
                              headers={"content-type": "application/octet-stream", "x-custom": "v1",
                                       "cookie": "a=1; b=2", "x-status": "201"})
    assert response.status_code == 201, response.text
    echo = response.json()
    assert echo["method"] == "PUT"
    assert urllib.parse.unquote(echo["path"]) == "/echo/a b/c", echo["path"]
    assert sorted(map(tuple, echo["queryPairs"])) == [("x", "1"), ("x", "2"), ("y", "z z")], echo["query"]
    assert base64.b64decode(echo["body"]) == body
    headers = headers_of(echo)
    assert headers["x-custom"] == ["v1"]
    cookies = "; ".join(headers["cookie"])
    assert "a=1" in cookies and "b=2" in cookies, cookies
    request_context = json.loads(headers["x-amzn-request-context"][0])
    assert request_context["http"]["method"] == "PUT", request_context
    lambda_context = headers["x-amzn-lambda-context"][0]
    json.loads(lambda_context)
    request_id = response.headers["x-amzn-requestid"]
    assert request_id in lambda_context, f"{request_id} not in {lambda_context}"
    # The answer's own headers and cookies made it back.
    assert response.headers["x-echo"] == "yes"
    assert {c.split(";")[0] for c in response.headers.get_list("set-cookie")} == {"first=1", "second=2"}


def test_several_pollers_of_managed_instances_concurrency_are_served_under_the_emulator(function, task_root):
    # The emulator lets the adapter's three invocation/next polls wait, as the RIE does, and hands
    # out its invocations one at a time: none of the polls is refused.
    function.start(task_root, {"WORKERS": 1, "AWS_LAMBDA_MAX_CONCURRENCY": 3})
    with function.client(timeout=60) as client:
        for number in range(5):
            response = client.get(f"/echo/{number}")
            assert response.status_code == 200, response.text
            assert response.json()["path"] == f"/echo/{number}"
    function.wait_for_output("3 at once")
    assert "InvalidStateTransition" not in function.output()


def test_a_five_megabyte_answer_comes_back_whole(function, task_root):
    function.start(task_root, {"WORKERS": 1})
    with function.client(timeout=60) as client:
        response = client.get("/large", params={"size": 5_000_000})
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/plain")
    assert_text_of(response.content, 5_000_000)
    assert hashlib.sha256(response.content).hexdigest() == response.headers["x-sha256"]


def test_a_binary_answer_comes_back_byte_for_byte(function, task_root):
    function.start(task_root, {"WORKERS": 1})
    with function.client(timeout=60) as client:
        response = client.get("/binary", params={"size": 300_000})
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "image/png"
    assert len(response.content) == 300_000 and response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert hashlib.sha256(response.content).hexdigest() == response.headers["x-sha256"]


def test_a_slow_first_byte_is_waited_for(function, task_root):
    function.start(task_root, {"WORKERS": 1})
    function.wait_restored()
    with function.client(timeout=60) as client:
        started = time.monotonic()
        response = client.get("/slow", params={"seconds": 1.5})
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.text == "slow-body", response.text
    assert elapsed >= 1.5


def test_an_app_dying_in_the_middle_of_its_body_gives_an_error_answer(function, task_root):
    # Two workers: the one that dies is not the process the emulator started (uvicorn's parent),
    # so what is seen is the adapter's answer, not the runtime's exit.
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2})
    with function.client(timeout=60) as client:
        response = client.get("/die")
        assert response.status_code >= 500, f"{response.status_code}: {response.content[:200]!r}"
        assert b"x" * 1000 not in response.content, "half a body was passed off as the answer"
        # The function still serves: the other worker, or a fresh environment.
        after = client.get("/whoami")
    assert after.status_code == 200, after.text
    assert function.stop() == 0, function.output()
    outcomes = [(i["status"], i["errorType"]) for i in function.report()["invocations"]]
    assert len(outcomes) == 2 and outcomes[1] == ("success", None), outcomes
    if response.status_code == 502 and "x-amzn-errortype" in response.headers:  # the adapter failed the invocation
        assert outcomes[0][0] == "error" and outcomes[0][1] == response.headers["x-amzn-errortype"], outcomes


def test_an_app_that_never_listens_fails_init(function, tmp_path):
    root = tmp_path / "never-listens"
    root.mkdir()
    write_executable(root / "run.sh", "#!/bin/sh\nexec sleep 60\n")
    function.start(root, init_timeout=2, emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_INIT_FAILED, function.output()
    report = function.report()
    assert report["init"]["status"] in ("timeout", "error"), report
    assert report["init"]["errorType"] == "Sandbox.Timedout", report
    assert report["restore"] is None and report["invocations"] == [], report


def test_an_app_that_never_becomes_healthy_fails_init(function, task_root):
    function.start(task_root, {"WORKERS": 1, "APP_HEALTH_STATUS": 503, "AWS_LWA_READINESS_CHECK_PATH": "/healthz"},
                   init_timeout=4, emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == EXIT_INIT_FAILED, function.output()
    report = function.report()
    assert report["init"]["errorType"] == "Sandbox.Timedout", report
    checks = [r for r in function.records("request") if r["path"] == "/healthz"]
    assert len(checks) >= 2, "the adapter did not keep checking the app's readiness"
    assert not function.records("before_snapshot"), "the snapshot was prepared for an app that never became ready"

