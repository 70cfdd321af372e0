"""`pip install --no-build-isolation bindings/python` works offline, and what it installs imports
in a fresh interpreter. The build runs on a copy (bindings/python, bus/ and base/ only), so it also shows
that nothing else in the checkout is needed, and it leaves the source tree untouched."""
import pathlib
import shutil
import subprocess

from conftest import PYTHON

REPO = pathlib.Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")


def test_offline_pip_install_into_a_target_directory(tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "bindings" / "python", checkout / "bindings" / "python", ignore=IGNORED)
    shutil.copytree(REPO / "bus", checkout / "bus", ignore=IGNORED)
    shutil.copytree(REPO / "base", checkout / "base", ignore=IGNORED)
    target = tmp_path / "site"
    install = subprocess.run([PYTHON, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                              "--disable-pip-version-check", "--target", str(target),
                              str(checkout / "bindings" / "python")],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    native = list((target / "snapbus").glob("_native*.so"))
    assert [p.name for p in native] == ["_native.abi3.so"]
    assert (target / "snapbus" / "_startup" / "sitecustomize.py").exists()

    check = subprocess.run([PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import snapbus; "
                            "print(snapbus.__file__, snapbus.abi_version(), snapbus.generation())", str(target)],
                           capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    path, abi, generation = check.stdout.split()
    assert path.startswith(str(target)) and abi == "1" and generation == "0"
