"""ASGI middleware under real uvicorn, WSGI middleware under a real wsgiref server: a request that
arrives while the after-restore hook is still running waits for it and sees what it did."""
import concurrent.futures
import os

import httpx
import pytest

import snapbus
from conftest import PROGRAMS, PYTHON, free_port, wait_until


def get_token(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/token", timeout=10).json()


def server_up(port: int):
    try:
        return get_token(port)
    except httpx.TransportError:
        return None


@pytest.fixture(params=["asgi", "wsgi"])
def web_server(request, bus, processes):
    port = free_port()
    env = processes.env(bus.segment, PYTHONPATH=os.pathsep.join([str(PROGRAMS), os.environ.get("PYTHONPATH", "")]))
    if request.param == "asgi":
        args = [PYTHON, "-m", "uvicorn", "--factory", "web_app:make_asgi_app", "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning"]
    else:
        args = [PYTHON, str(PROGRAMS / "web_app.py"), str(port)]
    proc = processes.start(args, env)
    wait_until(lambda: server_up(port) or proc.poll() is not None, 20, "the server to answer")
    assert proc.poll() is None, processes.stderr_of(proc)
    return port


def test_request_right_after_restore_sees_the_hook_result(bus, web_server):
    before = get_token(web_server)
    assert before["generation"] == 0 and before["hook_generation"] == 0

    watcher = snapbus.Subscriber.open(bus.segment, "test-observer", wait_for_ack=False)
    publisher = bus.publish_async("restore")
    try:
        # The moment the generation moves, ask: the hook (0.5 s) is still running in the server.
        wait_until(lambda: watcher.generation() == 1, 10, "the restore to be published", interval=0.001)
        after = get_token(web_server)
        output, _ = publisher.communicate(timeout=30)
        assert publisher.returncode == 0, output
    finally:
        watcher.close()
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate(timeout=30)

    assert after["generation"] == 1
    assert after["hook_generation"] == 1, "the request was served before the after-restore hook finished"
    assert after["token"] != before["token"]
    assert after["pid"] == before["pid"]


def test_held_requests_leave_the_loop_executor_to_a_hook_that_uses_it(bus, processes):
    # More requests arrive while the hook runs than the loop's default executor has threads; the
    # hook then needs one of those threads. Held requests that each parked a thread there would keep
    # the hook waiting until its own timeout, and the restore would fail.
    port = free_port()
    env = processes.env(bus.segment, PYTHONPATH=os.pathsep.join([str(PROGRAMS), os.environ.get("PYTHONPATH", "")]))
    proc = processes.start([PYTHON, "-m", "uvicorn", "--factory", "loop_hook_app:make_app", "--host", "127.0.0.1",
                            "--port", str(port), "--log-level", "warning"], env)

    def get_state(timeout: float = 10):
        return httpx.get(f"http://127.0.0.1:{port}/state", timeout=timeout).json()

    def up():
        try:
            return get_state()
        except httpx.TransportError:
            return proc.poll() is not None

    wait_until(up, 20, "the server to answer")
    assert proc.poll() is None, processes.stderr_of(proc)

    watcher = snapbus.Subscriber.open(bus.segment, "test-observer", wait_for_ack=False)
    publisher = bus.publish_async("restore", timeout_ms=20000)
    try:
        wait_until(lambda: watcher.generation() == 1, 10, "the restore to be published", interval=0.001)
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as requests:
            answers = list(requests.map(lambda _: get_state(timeout=30), range(12)))
        output, _ = publisher.communicate(timeout=40)
        assert publisher.returncode == 0, output + processes.stderr_of(proc)
    finally:
        watcher.close()
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate(timeout=30)
    assert [answer["reconnected"] for answer in answers] == [1] * 12, answers
