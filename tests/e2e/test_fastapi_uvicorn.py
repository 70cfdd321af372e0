"""The seed scenario with FastAPI under uvicorn (4 workers), SQLAlchemy pools to PostgreSQL,
PostgreSQL restarted while the function is frozen: the hooks fix every worker, and without them
every worker fails; then the same in proxy mode."""
from emulated_function import free_port
from scenario import assert_failure_without_hooks, assert_hooks_fixed_everything, run_scenario


def test_snapbus_hooks_renew_every_uvicorn_worker(cli, opt, database, tmp_path):
    run = run_scenario(cli, opt, tmp_path, database, handler="run_uvicorn.sh", label="fastapi/uvicorn, web mode")
    assert_hooks_fixed_everything(run)


def test_without_hooks_every_uvicorn_worker_fails(cli, opt, database, tmp_path):
    run = run_scenario(cli, opt, tmp_path, database, handler="run_uvicorn.sh", label="fastapi/uvicorn, hooks off",
                       env={"SCENARIO_HOOKS": "off"})
    assert_failure_without_hooks(run)


def test_proxy_mode_with_an_lwa_style_client(cli, opt, database, tmp_path):
    # The extension is the Runtime API proxy and runs the bracket; the runtime client is the web-mode
    # adapter with its bracket off (run_proxy.sh), as Lambda Web Adapter would be.
    proxy_port = free_port()
    run = run_scenario(cli, opt, tmp_path, database, handler="run_proxy.sh", label="fastapi/uvicorn, proxy mode",
                       env={"SNAPBUS_MODE": "proxy", "SNAPBUS_PROXY_PORT": str(proxy_port)})
    assert f"proxy on 127.0.0.1:{proxy_port}" in run.output, run.output
    assert_hooks_fixed_everything(run)
