// `snapbus adapter`, and the same adapter when Lambda starts this executable as the external
// extension /opt/extensions/snapbus (no arguments: its configuration is the environment).
//
//   if (auto name = extension_name_for(argv[0], argc - 1)) return run_adapter_command({}, name);
//   ...
//   {"adapter", ..., [](auto words) { return run_adapter_command(words, std::nullopt); }}
//   {"proxy", ..., [](auto words) { return run_adapter_command(words, std::nullopt, AdapterCommand::proxy); }}
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace snapbus::cli {

// The extension name when the executable was started as a Lambda extension: from a directory named
// `extensions`, without arguments. Lambda matches the registered name with the file name.
std::optional<std::string> extension_name_for(std::string_view argv0, int argument_count);

// Which command runs the adapter: `snapbus adapter` (and the extension) take SNAPBUS_MODE's mode,
// `snapbus proxy` is proxy mode whatever SNAPBUS_MODE says.
enum class AdapterCommand { adapter, proxy };

// Parses the words after the command (only --help and --extension-name), reads the environment,
// and runs the mode. Returns the adapter's exit code; a malformed variable is a UsageError naming it.
int run_adapter_command(std::span<const std::string> words, std::optional<std::string> extension_name,
                        AdapterCommand command = AdapterCommand::adapter);

}  // namespace snapbus::cli
