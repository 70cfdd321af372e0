# snapbus_add_test(NAME <name> SOURCES <files...> LABELS <labels...> [LIBS <targets...>] [TIMEOUT <s>]
#                  [ENVIRONMENT <VAR=value...>] [ASIO])
#
# The one way a GoogleTest suite joins ctest. Each TEST of the suite becomes its own ctest entry,
# named <name>.<Suite>.<Test> (so `ctest -R <name>` still selects the suite), with:
#   - LABELS (required): `unit` for in-process tests that take well under a second each, `e2e` for
#     tests that start the real executables; `ctest -L unit` is the fast loop.
#   - TIMEOUT (default 120 s) per test: a hang fails instead of stalling CI.
#   - SNAPBUS_TEST_TMPDIR: the directory the suite's tests put their segments under, one per suite
#     (ScratchDirectory names a subdirectory per test and process, so tests may run in parallel).
#   - SNAPBUS_CLI and SNAPBUS_EXAMPLE_SUBSCRIBER: the built `snapbus` and `example_subscriber`, for
#     the tests that start them (a test never guesses a path inside the build tree); SNAPBUS_OPT_DIR,
#     the layer's layout (bootstrap, extensions/snapbus, python/) for tests that run the adapter.
#   - ENVIRONMENT: more variables for this suite's tests.
#   - ASIO: the suite uses Boost.Asio, so it takes the warnings for Asio code (SnapbusWarnings.cmake).
#
# Tests are listed when ctest runs (DISCOVERY_MODE PRE_TEST), not at build time: a build never runs
# a test binary, so a binary that crashes on start fails its tests instead of the build.
include(GoogleTest)

# The environment every test gets, as a CMake list (generator expressions allowed).
function(snapbus_test_environment out_var suite_name)
  set(${out_var}
    "SNAPBUS_TEST_TMPDIR=${CMAKE_BINARY_DIR}/test-tmp/${suite_name}"
    "SNAPBUS_CLI=$<TARGET_FILE:snapbus>"
    "SNAPBUS_EXAMPLE_SUBSCRIBER=$<TARGET_FILE:example_subscriber>"
    "SNAPBUS_OPT_DIR=${CMAKE_BINARY_DIR}/opt"
    PARENT_SCOPE)
endfunction()

function(snapbus_add_test)
  cmake_parse_arguments(T "ASIO" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT T_LABELS)
    message(FATAL_ERROR "snapbus_add_test(${T_NAME}): give LABELS (unit or e2e), so `ctest -L` can select it")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  if(T_ASIO)
    set(warnings snapbus::warnings_asio)
  else()
    set(warnings snapbus::warnings)
  endif()
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main ${warnings})
  gtest_discover_tests(${T_NAME}
    TEST_PREFIX "${T_NAME}."
    TEST_LIST ${T_NAME}_TESTS
    DISCOVERY_MODE PRE_TEST
    NO_PRETTY_VALUES
    DISCOVERY_TIMEOUT 30)

  # gtest_discover_tests cannot pass a list-valued property (ENVIRONMENT) through PROPERTIES, so
  # a second include file, read by ctest after the discovered tests, sets the properties on the
  # list of tests the discovery produced.
  snapbus_test_environment(environment ${T_NAME})
  list(APPEND environment ${T_ENVIRONMENT})
  set(properties_file ${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_properties.cmake)
  file(GENERATE OUTPUT ${properties_file} CONTENT
"if(${T_NAME}_TESTS)
  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES
    TIMEOUT ${T_TIMEOUT}
    LABELS \"${T_LABELS}\"
    ENVIRONMENT \"${environment}\")
endif()
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${properties_file})
endfunction()
