"""Fixtures of the scenario tests: the built `snapbus` (the emulator), the function's /opt (the
layer), and one PostgreSQL per test module with the relay that restarts it during a freeze.

Environment (ctest sets it, see tests/CMakeLists.txt): SNAPBUS_CLI, SNAPBUS_OPT_DIR,
SNAPBUS_TEST_TMPDIR, and PYTHONPATH with the built snapbus package. Optional: SNAPBUS_LAYER_ZIP.
"""
import json
import os
import pathlib

import pytest

from emulated_function import layer_opt
from postgres_server import PostgresServer, RestartRelay
from scenario import DURATIONS


def pytest_configure(config):
    # Under ctest, keep every test's files (emulator logs, worker records) in the build tree's test-tmp.
    base = os.environ.get("SNAPBUS_TEST_TMPDIR")
    if base and not config.option.basetemp:
        os.makedirs(os.path.dirname(base), exist_ok=True)  # pytest makes (and empties) base itself
        config.option.basetemp = base


def pytest_terminal_summary(terminalreporter, config):
    """Init and Restore durations of every run, as the emulator reported them; also written to
    <basetemp>/durations.json."""
    if not DURATIONS:
        return
    terminalreporter.section("snapbus emulate: Init and Restore durations")
    terminalreporter.write_line(f"the function's /opt: {DURATIONS[0]['opt']}")
    for run in DURATIONS:
        init, restore = run["init"] or {}, run["restore"] or {}
        terminalreporter.write_line(
            f"{run['run']}: Init {init.get('durationMs', 0):.2f} ms, Restore {restore.get('durationMs', 0):.2f} ms "
            f"(frozen {run['frozenMs'] or 0:.0f} ms, freezer {run['freezer']}; requests per worker "
            f"{run['requestsPerWorker']})")
    output = pathlib.Path(config.option.basetemp or ".") / "durations.json"
    if output.parent.is_dir():
        output.write_text(json.dumps(DURATIONS, indent=1) + "\n")


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    executable = os.environ.get("SNAPBUS_CLI")
    if not executable or not os.environ.get("SNAPBUS_OPT_DIR"):
        pytest.skip("SNAPBUS_CLI and SNAPBUS_OPT_DIR are not set (run through ctest)")
    path = pathlib.Path(executable)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build the `snapbus` target first")
    return path


@pytest.fixture(scope="session")
def opt(cli, tmp_path_factory) -> pathlib.Path:
    path = layer_opt(tmp_path_factory.mktemp("layer"))
    if not os.access(path / "bootstrap", os.X_OK) or not os.access(path / "extensions" / "snapbus", os.X_OK):
        pytest.fail(f"{path} is not a layer (bootstrap, extensions/snapbus): build the `snapbus_opt` target")
    return path


@pytest.fixture(scope="module")
def database():
    """PostgreSQL for the module's tests, and the relay their --while-frozen command calls."""
    server = PostgresServer()
    relay = None
    try:
        server.start()
        relay = RestartRelay(server)
        yield relay
    finally:
        if relay:
            relay.close()
        server.remove()
