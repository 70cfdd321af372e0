// libFuzzer target for `snapbus emulate --env-file` (parse_env_file).
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target env_file_fuzz
//   build/fuzz/emulator/env_file_fuzz -max_total_time=60 emulator/fuzz/corpus/env_file
//
// Beyond "no crash": a file is refused only with ConfigError, and every name it yields is a valid
// variable name (letters, digits, underscores, not empty).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "snapbus/emulate_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& [name, value] : snapbus::emulator::parse_env_file(text, "fuzz")) {
      if (name.empty()) std::abort();
      for (const char c : name) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') std::abort();
      }
    }
  } catch (const snapbus::emulator::ConfigError&) {
    // Refusing a malformed line with its file and line number is the expected outcome.
  }
  return 0;
}
