# Proxy mode's added latency against the same runtime client talking to the emulator directly, in
# the same run. Included from benchmarks/CMakeLists.txt with the emulator; runs the real
# `snapbus emulate` and `snapbus proxy`.
add_executable(proxy_bench ${CMAKE_CURRENT_LIST_DIR}/proxy_bench.cpp)
target_link_libraries(proxy_bench PRIVATE snapbus::lambda snapbus_bench_processes Boost::headers benchmark::benchmark Threads::Threads
  snapbus::warnings_asio)
target_compile_definitions(proxy_bench PRIVATE SNAPBUS_EXECUTABLE="$<TARGET_FILE:snapbus>")
add_dependencies(proxy_bench snapbus)
