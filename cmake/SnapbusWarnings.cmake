# Warnings travel through one INTERFACE target, so third-party code and generated code are never
# compiled with them, and every project target opts in with one link line.
set(snapbus_warning_flags
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wimplicit-fallthrough
  # Designated initializers leave defaulted members out on purpose; GCC 12 would flag each one.
  -Wno-missing-field-initializers
  # A unity build (the layer and sanitizer presets) compiles each source as an #include of a
  # generated file, and GCC 12 then takes an anonymous-namespace type in a class or a coroutine
  # frame for one in a header; in a source of its own, as every other preset builds it, it is not.
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<BOOL:${CMAKE_UNITY_BUILD}>>:-Wno-subobject-linkage>
  $<$<BOOL:${SNAPBUS_WERROR}>:-Werror>)

add_library(snapbus_warnings INTERFACE)
add_library(snapbus::warnings ALIAS snapbus_warnings)
target_compile_options(snapbus_warnings INTERFACE ${snapbus_warning_flags} -Wnull-dereference)

# Code on Boost.Asio: the same warnings but -Wnull-dereference, which GCC 12 at -O2 raises inside
# Asio's own scheduler (inlined from a system header), so it would only ever report Boost's code;
# and GCC 12 at -O2 takes Asio's sized operator delete of a coroutine frame for a mismatch with
# its operator new (-Wmismatched-new-delete), again in Boost's code, which broke the release preset.
add_library(snapbus_warnings_asio INTERFACE)
add_library(snapbus::warnings_asio ALIAS snapbus_warnings_asio)
target_compile_options(snapbus_warnings_asio INTERFACE ${snapbus_warning_flags}
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
