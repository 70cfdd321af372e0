"""Web mode in front of Node.js's own HTTP server (programs/node_web_app.mjs on node:http, the server
under Express), the other kind of app LWA users stream from: its keep-alive, chunked framing and
strict parser are not uvicorn's. test_adapter_web_events.py sends every event vector to it too.
The adapter hears Node's listen() through the preloaded library, relays its stream chunk by chunk,
fails an answer whose connection Node dropped mid-body, and loses no request when Node has closed
the connections the adapter keeps alive."""
import re
import time

import httpx
import pytest

from adapter_web_harness import make_node_app_task_root, read_acked_stream

STREAM = {"AWS_LWA_INVOKE_MODE": "response_stream"}


def ready_line(function) -> str:
    lines = [line for line in function.output().splitlines() if "app ready on port" in line]
    assert len(lines) == 1, function.output()
    return lines[0]


def test_node_is_heard_listening_and_its_stream_comes_chunk_by_chunk(function, tmp_path):
    function.start(make_node_app_task_root(tmp_path), STREAM)
    function.wait_restored()
    line = ready_line(function)
    announced = re.search(r"pid (\d+) announced its listen\(\) on port (\d+)", line)
    assert announced and int(announced.group(2)) == function.app_port, line

    # Node writes line k+1 only once the test acknowledged line k: nothing on the way held one back.
    lines = read_acked_stream(function, tmp_path / "acks", 5)
    assert [line.split()[0] for line in lines] == [f"chunk-{k}" for k in range(5)], lines

    # Node drops the connection halfway through an announced body: the stream ends with an error.
    received = b""
    with function.client(timeout=60) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            with client.stream("GET", "/die") as response:
                assert response.status_code == 200
                for piece in response.iter_raw():
                    received += piece
        assert received and set(received) == {ord("x")}, received[:100]
        after = client.get("/after")
    assert after.status_code == 200 and after.json()["path"] == "/after", after.text
    assert function.stop() == 0, function.output()
    outcomes = [(i["status"], i["errorType"]) for i in function.report()["invocations"]]
    assert len(outcomes) == 3 and outcomes[0] == outcomes[2] == ("success", None), outcomes
    assert outcomes[1][0] == "error" and outcomes[1][1], outcomes


def test_node_buffered_answer_keeps_its_cookies_and_a_dropped_one_is_an_error(function, tmp_path):
    function.start(make_node_app_task_root(tmp_path))
    with function.client(timeout=60) as client:
        echoed = client.post("/some/path?a=1&a=2", content=b"\x00\x01binary", headers={"x-status": "201"})
        dropped = client.get("/die")
        after = client.get("/after")
    assert echoed.status_code == 201, echoed.text
    assert echoed.json()["queryPairs"] == [["a", "1"], ["a", "2"]], echoed.text
    assert echoed.headers["x-echo"] == "yes" and {"first", "second"} <= set(echoed.cookies), echoed.headers
    assert dropped.status_code >= 500, f"{dropped.status_code}: {dropped.content[:200]!r}"
    assert b"x" * 1000 not in dropped.content, "half a body was passed off as the answer"
    assert after.status_code == 200, after.text
    assert function.stop() == 0, function.output()


@pytest.mark.parametrize("mode", [{}, STREAM], ids=["buffered", "streamed"])
def test_an_early_hints_answer_is_skipped_and_each_request_gets_its_own_answer(function, tmp_path, mode):
    """Node sends 103 Early Hints, then the answer 20 ms later on the same connection. The 103 is not
    the answer: taken for it, the real answer would wait on the kept-alive connection and be read as
    the next request's, so every request after the first would get the one before's."""
    function.start(make_node_app_task_root(tmp_path), mode)
    paths = ["/page/alice", "/api/bob", "/api/carol", "/api/dave"]
    with function.client(timeout=30) as client:
        answers = [client.get(path, headers={"x-early-hints": "1"}) for path in paths]
    assert [a.status_code for a in answers] == [200] * len(paths), [(a.status_code, a.text) for a in answers]
    assert [a.json()["path"] for a in answers] == paths, [a.text for a in answers]
    assert function.stop() == 0, function.output()


def test_no_request_fails_when_node_has_closed_the_connections_the_adapter_kept(function, tmp_path):
    """Node advertises a keep-alive timeout of one second (APP_KEEPALIVE_S=1) and closes an idle
    connection about a second after that (Node 20 adds a second's grace). Between bursts the test
    waits 3 s: Node has closed every connection, while the adapter, whose limit is 4 s, still holds
    them as reusable. Each burst must then get through on new connections: GETs (which the adapter
    may send again on a fresh connection) and POSTs (which it may not, so only the check before
    reuse keeps them from a closed one)."""
    function.start(make_node_app_task_root(tmp_path), {"APP_KEEPALIVE_S": 1})
    function.wait_restored()
    statuses = []
    bursts = []
    with function.client(timeout=30) as client:
        for burst in range(3):
            if burst:
                time.sleep(3)
            seen = len(function.records("request"))
            gets = [lambda: client.get("/whoami")] * 3
            posts = [lambda: client.post("/submit", content=b"once")] * 3
            # The first request after a pause meets the closed connection: a POST after the first
            # pause, a GET after the second.
            statuses += [send().status_code for send in (posts + gets if burst == 1 else gets + posts)]
            bursts.append({r["port"] for r in function.records("request")[seen:]})
    assert statuses == [200] * len(statuses), f"{statuses}\n{function.output()}"
    # Each burst came on connections the one before did not use: Node had closed those, so the
    # case under test did occur (a late close would let the test pass without it).
    assert not bursts[0] & bursts[1] and not bursts[1] & bursts[2], bursts
    posts = [r for r in function.records("request") if r["method"] == "POST"]
    assert len(posts) == 9, f"a POST reached the app more or fewer times than sent: {posts}"
    assert function.stop() == 0, function.output()
    assert [i["status"] for i in function.report()["invocations"]] == ["success"] * len(statuses)
