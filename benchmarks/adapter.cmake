# The adapter's figures against same-run baselines (nginx, the app directly, the emulator with a
# trivial runtime, one HTTP POST). Included from benchmarks/CMakeLists.txt with the emulator; runs
# the real `snapbus emulate`, example_subscriber and Debian's nginx (nginx-light).
find_program(NGINX_EXECUTABLE nginx PATHS /usr/sbin /usr/local/sbin)
if(NOT NGINX_EXECUTABLE)
  message(STATUS "adapter_bench: no nginx found; its nginx baselines will fail (apt-get install nginx-light)")
  set(NGINX_EXECUTABLE /usr/sbin/nginx)
endif()
add_executable(adapter_bench ${CMAKE_CURRENT_LIST_DIR}/adapter_bench.cpp)
target_link_libraries(adapter_bench PRIVATE
  snapbus::adapter snapbus::lifecycle snapbus::lambda snapbus::net snapbus::bus snapbus::client
  snapbus_bench_processes Boost::headers Boost::json benchmark::benchmark Threads::Threads snapbus::warnings_asio)
target_compile_definitions(adapter_bench PRIVATE
  SNAPBUS_EXECUTABLE="$<TARGET_FILE:snapbus>"
  EXAMPLE_SUBSCRIBER="$<TARGET_FILE:example_subscriber>"
  OPT_DIR="${CMAKE_BINARY_DIR}/opt"
  PYTHON_PACKAGE_DIR="${CMAKE_BINARY_DIR}/bindings/python"
  FASTAPI_EXAMPLE_DIR="${PROJECT_SOURCE_DIR}/examples/fastapi"
  BENCH_PYTHON_DIR="${CMAKE_CURRENT_LIST_DIR}/python"
  NGINX_EXECUTABLE="${NGINX_EXECUTABLE}")
add_dependencies(adapter_bench snapbus snapbus_opt example_subscriber)
if(TARGET snapbus_python)
  add_dependencies(adapter_bench snapbus_python)  # the FastAPI restore benchmark's workers import it
endif()
