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

// A warning when Lambda Web Adapter's extension sits beside the one started as `argv0` in web mode
// (its layer left on the function after snapbus's was added): both would act as the function's
// runtime client. nullopt when it is not there. (Proxy mode keeps LWA on purpose, in front of it.)
std::optional<std::string> warning_for_lwa_beside(std::string_view argv0);

// Which command runs the adapter: `snapbus adapter` (and the extension) take SNAPBUS_MODE's mode,
// `snapbus proxy` is proxy mode whatever SNAPBUS_MODE says.
enum class AdapterCommand { adapter, proxy };

// Parses the words after the command (only --help and --extension-name), reads the environment,
// and runs the mode. Returns the adapter's exit code; a malformed variable is a UsageError naming it.
// `extension_path`: where Lambda started it as an extension (argv[0]), to look beside it for LWA's.
int run_adapter_command(std::span<const std::string> words, std::optional<std::string> extension_name,
                        AdapterCommand command = AdapterCommand::adapter, std::string_view extension_path = {});

}  // namespace snapbus::cli
