# The code every invocation runs through (the HTTP client, the Lambda codecs and Runtime API client,
# the adapter) is compiled -O2 even in the size-optimized layer build (MinSizeRel, -Os): at -Os the
# layer's adapter executed 117.8 thousand instructions per buffered invocation, with these targets at
# -O2 88.3 thousand (benchmarks/instructions.py's count), while the rest of `snapbus` (the CLI, the bus,
# Cap'n Proto) runs once per process and keeps -Os (all -O2: 87.8 thousand, for 0.13 MB more resident
# and 0.17 MB more file; packaging/README.md). A target opts in with one link line;
# the option comes after the build type's -Os on the command line, so it wins.
add_library(snapbus_request_path INTERFACE)
add_library(snapbus::request_path ALIAS snapbus_request_path)
target_compile_options(snapbus_request_path INTERFACE $<$<CONFIG:MinSizeRel>:-O2>)
