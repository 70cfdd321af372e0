"""The seed scenario with Flask under gunicorn (4 sync workers, no --preload), SQLAlchemy pools to
PostgreSQL, PostgreSQL restarted while the function is frozen: the hooks fix every worker, and
without them every worker fails."""
from scenario import assert_failure_without_hooks, assert_hooks_fixed_everything, run_scenario


def test_snapbus_hooks_renew_every_gunicorn_worker(cli, opt, database, tmp_path):
    run = run_scenario(cli, opt, tmp_path, database, handler="run_gunicorn.sh", label="flask/gunicorn, web mode")
    assert_hooks_fixed_everything(run)


def test_without_hooks_every_gunicorn_worker_fails(cli, opt, database, tmp_path):
    run = run_scenario(cli, opt, tmp_path, database, handler="run_gunicorn.sh", label="flask/gunicorn, hooks off",
                       env={"SCENARIO_HOOKS": "off"})
    assert_failure_without_hooks(run)
