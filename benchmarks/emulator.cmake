# The emulator's own share of an invocation, so later benchmarks can subtract it. Included from
# benchmarks/CMakeLists.txt; runs the real `snapbus emulate`.
add_executable(emulator_bench ${CMAKE_CURRENT_LIST_DIR}/emulator_bench.cpp)
target_link_libraries(emulator_bench PRIVATE snapbus_bench_processes Boost::headers benchmark::benchmark Threads::Threads
  snapbus::warnings_asio)
target_compile_definitions(emulator_bench PRIVATE SNAPBUS_EXECUTABLE="$<TARGET_FILE:snapbus>")
add_dependencies(emulator_bench snapbus)
