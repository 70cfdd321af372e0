"""The package's own constants (_state, _errors) pinned to the ones the native module exports from
snapbus.h, name by name and in both directions: a value renumbered, added or dropped on either side
fails here. (bus/snapbus.cpp pins snapbus.h to the C++ enums at compile time.)
"""
import enum

import pytest

from snapbus import _errors, _state
from snapbus._native import ffi, lib


def native_constants(prefix: str) -> dict[str, int]:
    """SNAPBUS_<prefix>_<NAME> of the native module, as {NAME: value}."""
    return {name[len(prefix):]: getattr(lib, name) for name in dir(lib) if name.startswith(prefix)}


@pytest.mark.parametrize("enum_type, prefix", [
    (_state.Phase, "SNAPBUS_PHASE_"),
    (_state.InitType, "SNAPBUS_INIT_"),
    (_state.Source, "SNAPBUS_SOURCE_"),
], ids=["Phase", "InitType", "Source"])
def test_state_enums_are_the_headers(enum_type: type[enum.IntEnum], prefix: str):
    assert native_constants(prefix) == {member.name: member.value for member in enum_type}


def test_phase_names_are_the_librarys():
    for phase in _state.Phase:
        assert ffi.string(lib.snapbus_phase_name(phase.value)).decode() == phase.name.lower().replace("_", "-")


def test_every_status_has_its_exception_with_the_librarys_number_and_name():
    native = native_constants("SNAPBUS_ERR_")
    assert lib.SNAPBUS_OK == 0
    assert {cls.status_name.upper(): cls.status for cls in _errors.BY_STATUS.values()} == native
    for status, cls in _errors.BY_STATUS.items():
        assert cls.status == status
        assert ffi.string(lib.snapbus_status_name(status)).decode() == cls.status_name
