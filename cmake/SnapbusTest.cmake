# snapbus_add_test(NAME <name> SOURCES <files...> [LIBS <targets...>] [LABELS <labels...>] [TIMEOUT <s>] [ASIO])
#
# The one way a GoogleTest suite joins ctest. Every suite gets a timeout (a hang fails instead of
# stalling CI) and the SNAPBUS_TEST_TMPDIR it must put its segments under, one directory per suite.
function(snapbus_add_test)
  cmake_parse_arguments(T "ASIO" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  # ASIO: the suite uses Boost.Asio, so it takes the warnings for Asio code (SnapbusWarnings.cmake).
  if(T_ASIO)
    set(warnings snapbus::warnings_asio)
  else()
    set(warnings snapbus::warnings)
  endif()
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main ${warnings})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES
    TIMEOUT ${T_TIMEOUT}
    LABELS "${T_LABELS}"
    ENVIRONMENT "SNAPBUS_TEST_TMPDIR=${CMAKE_BINARY_DIR}/test-tmp/${T_NAME};SNAPBUS_BINARY_DIR=${CMAKE_BINARY_DIR}")
endfunction()
