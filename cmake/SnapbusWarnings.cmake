# Warnings travel through one INTERFACE target, so third-party code and generated code are never
# compiled with them, and every project target opts in with one link line.
add_library(snapbus_warnings INTERFACE)
add_library(snapbus::warnings ALIAS snapbus_warnings)
target_compile_options(snapbus_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wimplicit-fallthrough
  # Designated initializers leave defaulted members out on purpose; GCC 12 would flag each one.
  -Wno-missing-field-initializers
  $<$<BOOL:${SNAPBUS_WERROR}>:-Werror>)
