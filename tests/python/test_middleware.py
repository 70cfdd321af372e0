"""ASGI middleware under real uvicorn, WSGI middleware under a real wsgiref server: a request that
arrives while the after-restore hook is still running waits for it and sees what it did."""
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
