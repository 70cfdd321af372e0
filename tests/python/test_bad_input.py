"""No segment, corrupt segments, permission problems: a clear exception, never a crash."""
import os
import shutil
import struct
import subprocess

import pytest

import snapbus
from conftest import PYTHON


def test_no_segment_raises_segment_not_found(tmp_path):
    missing = tmp_path / "missing.seg"
    with pytest.raises(snapbus.SegmentNotFound) as caught:
        snapbus.Subscriber.open(missing)
    assert isinstance(caught.value, FileNotFoundError)
    assert str(missing) in str(caught.value)
    assert caught.value.status_name == "not_found"


def test_without_a_publisher_import_and_hooks_do_not_fail(tmp_path):
    script = ("import snapbus\n"
              "@snapbus.after_restore\n"
              "def hook(): raise SystemExit('must not run')\n"
              "assert snapbus.is_running()\n"
              "print(snapbus.generation(), snapbus.state().attached)\n")
    env = dict(os.environ, SNAPBUS_SEGMENT=str(tmp_path / "none.seg"), SNAPBUS_LOG_LEVEL="DEBUG")
    result = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 False"
    assert "no publisher is running" in result.stderr


def write_file(path, data: bytes, mode=0o600):
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def test_garbage_file_is_an_invalid_segment(tmp_path):
    path = write_file(tmp_path / "garbage.seg", b"\xab" * 8192)
    with pytest.raises(snapbus.InvalidSegment) as caught:
        snapbus.Subscriber.open(path)
    assert isinstance(caught.value, ValueError)
    assert "not a snapbus segment" in str(caught.value)


def test_empty_and_truncated_segments_are_invalid(bus, tmp_path):
    good = bus.segment.read_bytes()
    for name, data in (("empty", b""), ("header-only", good[:64]), ("half", good[:len(good) // 2])):
        path = write_file(tmp_path / f"{name}.seg", data)
        with pytest.raises(snapbus.InvalidSegment):
            snapbus.Subscriber.open(path)


def test_other_layout_version_is_a_version_mismatch(bus, tmp_path):
    data = bytearray(bus.segment.read_bytes())
    struct.pack_into("<I", data, 8, 99)  # SegmentHeader.layout_version follows the 8-byte magic
    path = write_file(tmp_path / "future.seg", bytes(data))
    with pytest.raises(snapbus.VersionMismatch) as caught:
        snapbus.Subscriber.open(path)
    assert isinstance(caught.value, snapbus.InvalidSegment)


def test_segment_open_to_others_is_refused(bus, tmp_path):
    path = tmp_path / "open.seg"
    shutil.copyfile(bus.segment, path)
    os.chmod(path, 0o666)
    with pytest.raises(snapbus.PermissionDenied) as caught:
        snapbus.Subscriber.open(path)
    assert isinstance(caught.value, PermissionError)


def test_segment_of_another_owner_is_refused(bus, tmp_path):
    path = tmp_path / "foreign.seg"
    shutil.copyfile(bus.segment, path)
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)  # nobody: root may open anything, so give it away
    else:
        pytest.skip("needs root to give the file to another user")
    with pytest.raises(snapbus.PermissionDenied):
        snapbus.Subscriber.open(path)


def test_explicit_start_raises_for_a_corrupt_segment(tmp_path):
    path = write_file(tmp_path / "garbage.seg", b"\x00" * 4096)
    script = ("import snapbus\n"
              "try:\n"
              "    snapbus.start()\n"
              "except snapbus.InvalidSegment as error:\n"
              "    print('raised', type(error).__name__, snapbus.generation())\n")
    env = dict(os.environ, SNAPBUS_SEGMENT=str(path))
    result = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "raised InvalidSegment 0"


def test_hook_registration_survives_a_corrupt_segment(tmp_path):
    path = write_file(tmp_path / "garbage.seg", b"\x00" * 4096)
    script = ("import snapbus\n"
              "snapbus.after_restore(print)\n"
              "print(snapbus.generation(), snapbus.is_running())\n")
    env = dict(os.environ, SNAPBUS_SEGMENT=str(path), SNAPBUS_LOG_LEVEL="WARNING")
    result = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 True"
    assert "cannot attach yet" in result.stderr


@pytest.mark.parametrize("variable, value", [("SNAPBUS_SLOTS", "lots"), ("SNAPBUS_SEGMENT", "relative.seg")])
def test_a_malformed_setting_stops_the_hooks_with_an_error_instead_of_a_retrying_watcher(bus, variable, value):
    # What zero-code mode and a hook registration do (a quiet start): the app goes on, and stderr says
    # why no hook will run. A watcher retrying a setting that cannot change would only hide it.
    script = ("import snapbus\n"
              "snapbus.after_restore(print)\n"
              "print(snapbus.generation(), snapbus.is_running())\n")
    env = dict(os.environ, SNAPBUS_SEGMENT=str(bus.segment))
    env[variable] = value
    result = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 False"
    assert f"{variable}={value}: expected" in result.stderr
    assert "no hook runs in this process" in result.stderr
    assert "keeps trying" not in result.stderr


def test_symbolic_link_to_a_segment_is_refused(bus, tmp_path):
    link = tmp_path / "link.seg"
    link.symlink_to(bus.segment)
    with pytest.raises(snapbus.PermissionDenied) as caught:
        snapbus.Subscriber.open(link)
    assert "symbolic link" in str(caught.value)


def test_paths_and_names_that_are_not_utf8_work(cli, tmp_path):
    # A directory and a process name in bytes that are not UTF-8 (a Latin-1 deployment): snapbus
    # takes paths as the OS does, and a name is display text, escaped where it cannot be decoded.
    directory = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(directory)
    segment = directory + b"/bus.seg"
    assert subprocess.run([str(cli), "publish", "running", "--segment", segment], timeout=30).returncode == 0
    script = ("import os, snapbus\n"
              "snapbus.after_restore(lambda: print('HOOK', snapbus.generation(), flush=True))\n"
              "print('ATTACHED', snapbus.state().attached, flush=True)\n"
              "with snapbus.Subscriber.open(os.fsencode(os.environ['SNAPBUS_SEGMENT']), name='bytes-path',"
              " wait_for_ack=False) as direct:\n"
              "    print('BYTES', direct.path == os.environ['SNAPBUS_SEGMENT'], flush=True)\n"
              "print('CLOSED', direct.closed, flush=True)\n")
    env = dict(os.environb, SNAPBUS_SEGMENT=segment, SNAPBUS_NAME=b"worker-\xe9")
    result = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ATTACHED", "True", "BYTES", "True", "CLOSED", "True"], result.stdout + result.stderr


def test_integers_out_of_range_are_invalid_arguments_naming_the_argument(bus):
    with snapbus.Subscriber.open(bus.segment, "ints") as sub:
        seq = sub.read_state().seq
        calls = [
            ("seen_seq", lambda: sub.wait(-1, 0)),
            ("seen_seq", lambda: sub.wait(1 << 32, 0)),
            ("timeout_ms", lambda: sub.wait(seq, 1 << 63)),
            ("seq", lambda: sub.ack(1 << 40, 0, ok=True, hooks_run=0, hooks_failed=0, message="")),
            ("handled_generation", lambda: sub.ack(seq, -1, ok=True, hooks_run=0, hooks_failed=0, message="")),
            ("hooks_run", lambda: sub.ack(seq, 0, ok=True, hooks_run=1 << 32, hooks_failed=0, message="")),
            ("timeout_ms", lambda: snapbus._checked.wait_for_segment(bus.segment, -(1 << 70))),
        ]
        for name, call in calls:
            with pytest.raises(snapbus.InvalidArgument, match=name) as caught:
                call()
            assert isinstance(caught.value, ValueError)
        with pytest.raises(TypeError, match="seen_seq is an int, not float"):
            sub.wait(1.5, 0)
        with pytest.raises(TypeError, match="seq is an int, not bool"):
            sub.ack(True, 0, ok=True, hooks_run=0, hooks_failed=0, message="")
    with pytest.raises(snapbus.InvalidArgument, match="handled generation"):
        snapbus.Subscriber.open(bus.segment, "ints", handled=(0, 0, 0, 1 << 64))
