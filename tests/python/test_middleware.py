"""ASGI middleware under real uvicorn, WSGI middleware under a real wsgiref server: a request that
arrives while the after-restore hook is still running waits for it and sees what it did."""
import asyncio
import concurrent.futures
import os
import threading

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
    # All twelve were held when the hook needed the loop's executor.
    assert all(answer["held_at_reconnect"] >= 12 for answer in answers), answers


# ---- the async guard's catch-up thread, on a client of its own with a generation the test sets ----

def fake_generation(monkeypatch, value: int) -> list:
    generation = [value]
    monkeypatch.setattr(snapbus._client._hot, "generation", lambda: generation[0])
    return generation


def test_an_async_guard_whose_thread_cannot_start_fails_that_request_only(monkeypatch):
    client = snapbus._client._Client()
    fake_generation(monkeypatch, 1)
    caught_up = []

    def catch_up():
        caught_up.append(threading.current_thread().name)
        client.handled_generation = 1

    monkeypatch.setattr(client, "guard_catch_up", catch_up)
    start = threading.Thread.start
    refusals = [RuntimeError("can't start new thread")]

    def start_unless_refused(thread):
        if thread.name == "snapbus-catch-up" and refusals:
            raise refusals.pop()
        return start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_unless_refused)

    async def two_requests():
        with pytest.raises(RuntimeError, match="can't start new thread"):
            await client.check_async()
        # The next request is not left waiting on a catch-up that never began.
        await asyncio.wait_for(client.check_async(), 10)

    asyncio.run(two_requests())
    assert caught_up == ["snapbus-catch-up"]


def test_an_async_guard_waits_for_a_restore_published_while_a_catch_up_ran(monkeypatch):
    client = snapbus._client._Client()
    generation = fake_generation(monkeypatch, 1)
    first_running = threading.Event()
    release = threading.Event()

    def catch_up():
        target = generation[0]  # what the state said when this catch-up read it
        if target == 1:
            first_running.set()
            assert release.wait(10)
        client.handled_generation = target

    monkeypatch.setattr(client, "guard_catch_up", catch_up)

    async def requests_across_two_restores():
        first = asyncio.ensure_future(client.check_async())
        assert await asyncio.get_running_loop().run_in_executor(None, first_running.wait, 10)
        generation[0] = 2  # a second restore while the first one's hooks run
        second = asyncio.ensure_future(client.check_async())
        await asyncio.sleep(0.05)  # the second request joins the catch-up in progress
        release.set()
        await asyncio.wait_for(first, 10)
        await asyncio.wait_for(second, 10)
        # Not served before the second restore's hooks had run.
        assert client.handled_generation == 2

    asyncio.run(requests_across_two_restores())
