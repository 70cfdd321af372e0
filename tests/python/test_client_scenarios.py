"""The Python package against the scenario table both clients share
(tests/contract/client_scenarios.json; its "about" says what a scenario is). The C++ client runs
the same table in tests/contract/client_scenarios_test.cpp, so the two cannot drift.
"""
import json
import pathlib

import pytest

from conftest import read_ready

TABLE = pathlib.Path(__file__).resolve().parent.parent / "contract" / "client_scenarios.json"
SCENARIOS = json.loads(TABLE.read_text())["scenarios"]


def expected_message(failures: list[list[str]]) -> str:
    return "; ".join(f"{phase} hook '{hook}' failed: RuntimeError: {message}" for phase, hook, message in failures)


class Calls:
    """The hooks the client process called, read from its log in the order they happened."""

    def __init__(self, log: pathlib.Path):
        self.log = log
        self.seen = 0

    def take(self) -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        new, self.seen = lines[self.seen:], len(lines)
        return new


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(scenario, bus, processes, tmp_path):
    calls = Calls(tmp_path / "calls.log")
    client = None

    def join():
        proc = processes.python("scenario_client.py", "--table", TABLE, "--scenario", scenario["name"],
                                "--log", calls.log, env=processes.env(bus.segment, SNAPBUS_AUTOSTART="0"))
        read_ready(proc, 1)
        return proc

    steps = scenario["steps"]
    if not any("join" in step for step in steps):
        client = join()
    for number, step in enumerate(steps, 1):
        where = f"{scenario['name']} step {number}"
        if "join" in step:
            client = join()
        else:
            where += f" (publish {step['publish']})"
            result = bus.publish(step["publish"], timeout_ms=10000)
            assert result.returncode == step["exit"], f"{where}\n{result.stdout}\n{result.stderr}"
        assert calls.take() == step["calls"], where
        if "state" not in step and "slot" not in step:
            continue
        status = bus.status()
        for key, expected in step.get("state", {}).items():
            assert status["state"][key] == expected, f"{where}: state.{key}"
        if "slot" in step:
            slots = [slot for slot in status["subscribers"] if slot["pid"] == client.pid]
            assert len(slots) == 1, f"{where}: no slot of the client in {status}"
            for key, expected in step["slot"].items():
                if key == "failures":
                    assert slots[0]["message"] == expected_message(expected), where
                else:
                    assert slots[0][key] == expected, f"{where}: slot.{key}"
