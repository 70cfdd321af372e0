"""/opt/bootstrap, the layer's exec wrapper, run as Lambda runs it: with a clean environment, and with
the managed runtime's command as its arguments (Lambda's /var/runtime/bootstrap execs
`$AWS_LAMBDA_EXEC_WRAPPER /var/lang/bin/python3.12 /var/runtime/bootstrap.py`). Each case runs under
dash (Debian's /bin/sh) and bash (Amazon Linux 2023's), and the program it execs prints the
environment it got.
"""
import json
import pathlib
import shutil
import subprocess

import pytest

from adapter_web_harness import write_executable

PYTHON = "/usr/bin/python3"
# Prints the variables the wrapper sets, as JSON, so a test sees exactly what the exec'd program got.
SHOW_ENV = ("import json, os, sys; print(json.dumps({k: os.environ.get(k) for k in "
            "('PYTHONPATH', 'LD_PRELOAD', 'AWS_LAMBDA_RUNTIME_API', 'SNAPBUS_SEGMENT')} | {'argv': sys.argv[1:]}))")
SHELLS = [shell for shell in ("dash", "bash") if shutil.which(shell)]


@pytest.fixture(params=SHELLS)
def shell(request) -> str:
    return request.param


@pytest.fixture
def task_root(tmp_path) -> pathlib.Path:
    root = tmp_path / "task root with spaces"
    root.mkdir()
    write_executable(root / "run.sh", f"#!/bin/sh\nexec {PYTHON} -c \"{SHOW_ENV}\" \"$@\"\n")
    return root


def wrap(shell, opt_dir, env, runtime_command=()):
    """Runs the wrapper; `env` is the whole environment, as in Lambda (PATH added)."""
    return subprocess.run([shell, str(opt_dir / "bootstrap"), *runtime_command],
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=30)


def shown(run) -> dict:
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def managed_runtime():
    """A stand-in for `python3.12 /var/runtime/bootstrap.py`: prints its environment."""
    return [PYTHON, "-c", SHOW_ENV, "runtime-argument with spaces"]


def test_web_mode_runs_the_handler_script_with_the_layer_on_the_paths(shell, opt_dir, task_root):
    got = shown(wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh",
                                      "PYTHONPATH": "/var/task/deps", "LD_PRELOAD": "/opt/other.so"},
                     managed_runtime()))
    assert got["PYTHONPATH"] == f"{opt_dir}/python:/var/task/deps:{task_root}"
    assert got["LD_PRELOAD"] == f"{opt_dir}/lib/libsnapbus-listen-notice.so:/opt/other.so"
    assert got["SNAPBUS_SEGMENT"] == "/tmp/snapbus.seg"
    assert got["AWS_LAMBDA_RUNTIME_API"] is None
    assert got["argv"] == [], "the handler script runs in place of the runtime, without its arguments"


@pytest.mark.parametrize("value", ["1", " true ", "YES", "On"])
def test_zero_code_values_read_as_the_python_package_reads_them(shell, opt_dir, task_root, value):
    got = shown(wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh",
                                      "SNAPBUS_ZERO_CODE": value}))
    assert got["PYTHONPATH"] == f"{opt_dir}/python/snapbus/_startup:{opt_dir}/python:{task_root}"


@pytest.mark.parametrize("value", ["0", "off", " False"])
def test_listen_notice_turned_off(shell, opt_dir, task_root, value):
    got = shown(wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh",
                                      "SNAPBUS_LISTEN_NOTICE": value, "SNAPBUS_ZERO_CODE": "no"}))
    assert got["LD_PRELOAD"] is None
    assert got["PYTHONPATH"] == f"{opt_dir}/python:{task_root}"


def test_proxy_mode_wraps_a_managed_runtime_and_leaves_pythonpath_unset(shell, opt_dir, task_root):
    # Lambda's Python bootstrap.py puts /opt/python and the layers' site-packages on sys.path only
    # when PYTHONPATH is unset: setting it here would break every layer's imports.
    got = shown(wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "app.handler",
                                      "SNAPBUS_MODE": " Proxy ", "SNAPBUS_PROXY_PORT": "9010 ",
                                      "SNAPBUS_ZERO_CODE": "1", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"},
                     managed_runtime()))
    assert got["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9010"
    assert got["PYTHONPATH"] is None
    assert got["LD_PRELOAD"] is None
    assert got["argv"] == ["runtime-argument with spaces"]


def test_proxy_mode_keeps_lwa_s_handler_script(shell, opt_dir, task_root):
    got = shown(wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh",
                                      "SNAPBUS_MODE": "proxy", "AWS_LAMBDA_EXEC_WRAPPER": str(opt_dir / "bootstrap")},
                     managed_runtime()))
    assert got["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9009"
    assert got["argv"] == []


def test_proxy_mode_called_by_a_custom_runtime_runs_its_command_whatever_the_handler(shell, opt_dir, task_root):
    """An OS-only runtime's bootstrap runs `exec /opt/bootstrap ./my-runtime` (Lambda runs no exec wrapper
    there): its handler may be a file (Bref's index.php), which is the runtime's to load, not to run here."""
    got = shown(wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh",
                                      "SNAPBUS_MODE": "proxy"}, managed_runtime()))
    assert got["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9009"
    assert got["argv"] == ["runtime-argument with spaces"]


@pytest.mark.parametrize("mode", ["web", "proxy"])
def test_a_handler_script_that_is_not_executable_is_an_error_not_the_runtime(shell, opt_dir, task_root, mode):
    (task_root / "run.sh").chmod(0o644)
    run = wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh", "SNAPBUS_MODE": mode,
                                "AWS_LAMBDA_EXEC_WRAPPER": str(opt_dir / "bootstrap")}, managed_runtime())
    assert run.returncode == 126
    assert run.stdout == ""
    assert f"the handler '{task_root}/run.sh' is not executable" in run.stderr


def test_web_mode_with_a_module_handler_says_what_to_do(shell, opt_dir, task_root):
    run = wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "app.handler"}, managed_runtime())
    assert run.returncode == 127
    assert run.stdout == ""
    assert "set SNAPBUS_MODE=proxy" in run.stderr


def test_proxy_mode_without_a_runtime_to_wrap(shell, opt_dir, task_root):
    run = wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "app.handler",
                                "SNAPBUS_MODE": "proxy"})
    assert run.returncode == 127
    assert "no runtime command was given to wrap" in run.stderr


@pytest.mark.parametrize("variable, value, expected", [
    ("SNAPBUS_MODE", "proxi", "SNAPBUS_MODE='proxi': expected web or proxy"),
    ("SNAPBUS_SEGMENT", "bus.seg", "SNAPBUS_SEGMENT='bus.seg': expected an absolute path"),
    ("SNAPBUS_ZERO_CODE", "maybe", "SNAPBUS_ZERO_CODE='maybe': expected one of"),
    ("SNAPBUS_LISTEN_NOTICE", "2", "SNAPBUS_LISTEN_NOTICE='2': expected one of"),
    ("SNAPBUS_PROXY_PORT", "abc", "SNAPBUS_PROXY_PORT='abc': expected a port from 1 to 65535"),
    ("SNAPBUS_PROXY_PORT", "0", "SNAPBUS_PROXY_PORT='0': expected a port from 1 to 65535"),
    ("SNAPBUS_PROXY_PORT", "70000", "SNAPBUS_PROXY_PORT='70000': expected a port from 1 to 65535"),
    ("SNAPBUS_PROXY_PORT", "000009009", "SNAPBUS_PROXY_PORT='000009009': expected a port from 1 to 65535"),
])
def test_a_value_the_adapter_would_refuse_stops_the_wrapper(shell, opt_dir, task_root, variable, value, expected):
    # Proxy mode, so that SNAPBUS_PROXY_PORT is read.
    mode = {"SNAPBUS_MODE": "proxy"} if variable == "SNAPBUS_PROXY_PORT" else {}
    run = wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh", variable: value, **mode},
               managed_runtime())
    assert run.returncode == 2
    assert run.stdout == ""
    assert expected in run.stderr


@pytest.mark.parametrize("zero_code", ["0", "1"])
def test_the_task_root_is_on_the_path_while_site_runs(shell, opt_dir, task_root, tmp_path, zero_code):
    """The package's cffi usually sits in the task root, and zero-code mode imports it from site,
    before Python adds the script's or working directory to sys.path: a sitecustomize in the task
    root shows it is importable then (with zero-code on, snapbus's own runs it in turn)."""
    (task_root / "sitecustomize.py").write_text("print('site saw the task root')\n")
    write_executable(task_root / "run.sh", f"#!/bin/sh\ncd /\nexec {PYTHON} -c \"print('app')\"\n")
    run = wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh",
                                "SNAPBUS_ZERO_CODE": zero_code, "SNAPBUS_SEGMENT": str(tmp_path / "bus.seg")})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["site saw the task root", "app"], run.stderr


def test_zero_code_under_a_managed_runtime_starts_through_the_layer_s_pth(opt_dir, tmp_path):
    """What the managed runtime's bootstrap.py does with PYTHONPATH unset, site.addsitedir("/opt/python"),
    runs the layer's .pth: zero-code mode starts with the variable on, and with it off or unset not even
    snapbus is imported (importing it installs the bridge, and without cffi prints a traceback)."""
    code = ("import site, sys; site.addsitedir(sys.argv[1]); imported = 'snapbus' in sys.modules; "
            "import snapbus._bridge as bridge; print(imported, bridge._installed)")
    for value, expected in (("1", "True True"), ("yes", "True True"), ("0", "False False"), ("off", "False False"),
                            ("false", "False False"), (None, "False False")):
        # SNAPBUS_PYTHON_BRIDGE=0: the test's own `import snapbus` would install the bridge too.
        env = {"PATH": "/usr/bin:/bin", "SNAPBUS_PYTHON_BRIDGE": "0", "SNAPBUS_SEGMENT": str(tmp_path / "seg")}
        if value is not None:
            env["SNAPBUS_ZERO_CODE"] = value
        run = subprocess.run([PYTHON, "-c", code, str(opt_dir / "python")], env=env, capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == expected, (value, run.stderr)
    # A value that is no boolean is named, not taken for off.
    env["SNAPBUS_ZERO_CODE"] = "maybe"
    run = subprocess.run([PYTHON, "-c", code, str(opt_dir / "python")], env=env, capture_output=True, text=True,
                         timeout=30)
    assert "SNAPBUS_ZERO_CODE='maybe'" in run.stderr, run.stderr


@pytest.mark.parametrize("zero_code, expected", [("1", "True"), ("0", "False")])
def test_zero_code_behind_a_run_sh_that_replaces_pythonpath(shell, opt_dir, task_root, tmp_path, zero_code, expected):
    """Some of LWA's examples start the server with PYTHONPATH=/opt/python:$LAMBDA_RUNTIME_DIR, which drops
    what /opt/bootstrap set: the layer's python/sitecustomize.py still starts zero-code mode. Lambda's
    Python has no cffi, so the function brings it in its task root, which that PYTHONPATH dropped too:
    here an interpreter that sees no dist-packages (a venv) finds Debian's cffi backend only there."""
    venv = tmp_path / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=60)
    backend = next(pathlib.Path("/usr/lib/python3/dist-packages").glob("_cffi_backend.*.so"))
    (task_root / backend.name).symlink_to(backend)
    show = "import sys; print('snapbus._bridge' in sys.modules and sys.modules['snapbus._bridge']._installed)"
    write_executable(task_root / "run.sh", f"#!/bin/sh\ncd /\nPYTHONPATH={opt_dir}/python:/var/runtime "
                                           f"exec {venv}/bin/python -c \"{show}\"\n")
    run = wrap(shell, opt_dir, {"LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": "run.sh",
                                "SNAPBUS_ZERO_CODE": zero_code, "SNAPBUS_SEGMENT": str(tmp_path / "bus.seg")})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == expected, run.stderr
