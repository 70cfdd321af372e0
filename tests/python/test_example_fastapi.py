"""examples/fastapi, started by its own run.sh with several uvicorn workers: after
`snapbus publish before-snapshot` and `restore`, every worker has a new token and a new pool."""
import pathlib

import httpx

from conftest import PYTHON, free_port, wait_until

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "fastapi"
WORKERS = 2


def sample_workers(port: int, wanted: int, timeout: float = 20.0, path: str = "/") -> dict[int, dict]:
    """Asks until every worker answered once (new connections spread over the workers)."""
    seen: dict[int, dict] = {}

    def all_seen():
        try:
            with httpx.Client(timeout=5) as client:  # a fresh connection each time
                body = client.get(f"http://127.0.0.1:{port}{path}", headers={"connection": "close"}).json()
            seen[body["pid"]] = body
        except httpx.TransportError:
            pass
        return len(seen) >= wanted

    wait_until(all_seen, timeout, f"{wanted} workers to answer", interval=0.01)
    return seen


def test_every_worker_gets_a_new_token_and_pool_after_restore(bus, processes):
    port = free_port()
    env = processes.env(bus.segment, PYTHON=PYTHON, PORT=port, WORKERS=WORKERS)
    server = processes.start([str(EXAMPLE / "run.sh")], env)
    before = sample_workers(port, WORKERS)
    assert server.poll() is None, processes.stderr_of(server)
    assert all(b["generation"] == 0 and b["pool"]["open"] for b in before.values())

    bus.publish_ok("before-snapshot")
    bus.publish_ok("restore")

    after = sample_workers(port, WORKERS)
    assert set(after) == set(before), "a worker was replaced instead of restored"
    for pid, body in after.items():
        assert body["generation"] == 1
        assert body["instance_token"] != before[pid]["instance_token"]
        assert body["pool"]["open"] and body["pool"]["opened_at_generation"] == 1
        assert set(body["pool"]["connections"]).isdisjoint(before[pid]["pool"]["connections"])
    assert len({body["instance_token"] for body in after.values()}) == WORKERS
