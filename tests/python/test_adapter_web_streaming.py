"""Streamed responses through the adapter (AWS_LWA_INVOKE_MODE=response_stream) and the emulator's
Function URL front door, which relays a stream chunk by chunk: each chunk arrives before the next
is even produced, large and binary streams come back whole, a slow first byte is waited for, the
status, headers and cookies travel in the prelude, and an app that dies mid-stream ends the stream
with an error the emulator reports."""
import hashlib
import time

import httpx
import pytest

from adapter_web_harness import read_acked_stream


STREAM = {"AWS_LWA_INVOKE_MODE": "response_stream"}


@pytest.fixture
def streaming(function, task_root):
    return function.start(task_root, {"WORKERS": 1, **STREAM})


def test_every_chunk_arrives_before_the_next_is_produced(streaming, tmp_path):
    """The app sends chunk k+1 only after the test acknowledged chunk k through a file: a chunk held
    back anywhere (adapter, emulator) stops the stream, and the app ends it with no-ack-<k>."""
    chunks = 6
    lines = read_acked_stream(streaming, tmp_path / "acks", chunks)
    assert not [line for line in lines if line.startswith("no-ack")], \
        f"a chunk was held back until the app gave up waiting: {lines}"
    assert [line.split()[0] for line in lines] == [f"chunk-{k}" for k in range(chunks)], lines


def test_a_five_megabyte_stream_comes_back_whole(streaming):
    with streaming.client(timeout=60) as client:
        response = client.get("/large-stream", params={"size": 5_000_000})
    assert response.status_code == 200
    assert len(response.content) == 5_000_000
    assert hashlib.sha256(response.content).hexdigest() == response.headers["x-sha256"]


def test_a_binary_stream_comes_back_byte_for_byte(streaming):
    with streaming.client(timeout=60) as client:
        response = client.get("/binary", params={"size": 300_000, "stream": 1})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert hashlib.sha256(response.content).hexdigest() == response.headers["x-sha256"]


def test_status_headers_and_cookies_travel_in_the_prelude(streaming):
    with streaming.client(timeout=60) as client:
        response = client.post("/echo/x", content=b"\x00\x01nul bytes in the body", headers={"x-status": "202"})
    assert response.status_code == 202, response.text
    assert response.headers["x-echo"] == "yes"
    assert {c.split(";")[0] for c in response.headers.get_list("set-cookie")} == {"first=1", "second=2"}
    assert response.json()["method"] == "POST"


def test_a_slow_first_byte_is_waited_for(streaming):
    streaming.wait_restored()
    with streaming.client(timeout=60) as client:
        started = time.monotonic()
        response = client.get("/slow", params={"seconds": 1.5, "stream": 1})
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.text == "slow-stream", response.text
    assert elapsed >= 1.5


def test_an_app_dying_mid_stream_ends_the_stream_with_an_error(function, task_root):
    # Two workers, so the process that dies is a worker and not the runtime the emulator started.
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2, **STREAM})
    received = b""
    with function.client(timeout=60) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            with client.stream("GET", "/die", params={"stream": 1}) as response:
                assert response.status_code == 200
                for piece in response.iter_raw():
                    received += piece
        assert received.startswith(b"chunk-0\n"), received
        after = client.get("/whoami")
    assert after.status_code == 200, after.text
    assert function.stop() == 0, function.output()
    failed = [i for i in function.report()["invocations"] if i["status"] != "success"]
    assert len(failed) == 1 and failed[0]["errorType"], function.report()
