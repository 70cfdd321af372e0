// The `snapbus` executable: one subcommand per run.
//
//   snapbus status [--json]          snapbus watch [--json] [--count N]
//   snapbus publish restore          snapbus emulate [options] -- <function command>
//
// Exit codes (cli_exit_code.h): 0 ok, 1 not acknowledged, 2 usage, 3 no segment, 4 busy, 5 error.
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli_arguments.h"
#include "cli_exit_code.h"
#include "cli_publish.h"
#include "cli_status.h"
#include "cli_watch.h"
#include "snapbus/config.h"
#include "snapbus/emulator.h"
#include "snapbus/error.h"

namespace {

constexpr const char* kUsage =
    "usage: snapbus <command> [options]\n"
    "\n"
    "commands:\n"
    "  status    show the lifecycle state and every subscriber\n"
    "  watch     print each lifecycle change as it happens\n"
    "  publish   drive the lifecycle by hand: starting, before-snapshot, restore, running, shutdown\n"
    "  emulate   run a function in a local Lambda with SnapStart\n"
    "\n"
    "'snapbus <command> --help' describes each command's options.\n"
    "environment: SNAPBUS_SEGMENT (segment file, default /tmp/snapbus.seg), SNAPBUS_SEGMENT_GROUP,\n"
    "SNAPBUS_SLOTS, SNAPBUS_ACK_TIMEOUT_MS, SNAPBUS_NAME\n";

int run_emulate(const std::vector<std::string>& args) {
  snapbus::emulator::ParsedArgs parsed;
  try {
    parsed = snapbus::emulator::parse_emulate_args(args);
  } catch (const snapbus::emulator::ConfigError& e) {
    std::cerr << "snapbus emulate: " << e.what() << '\n';
    return snapbus::cli::kExitUsage;
  }
  if (parsed.help) {
    std::cout << snapbus::emulator::emulate_usage();
    return snapbus::cli::kExitOk;
  }
  return snapbus::emulator::run_emulator(parsed.config);
}

int run_command(std::string_view command, std::span<const std::string> args) {
  const snapbus::Config config = snapbus::config_from_environment();
  if (command == "status") return snapbus::cli::run_status(args, config, std::cout);
  if (command == "watch") return snapbus::cli::run_watch(args, config, std::cout, std::cerr);
  if (command == "publish") return snapbus::cli::run_publish(args, config, std::cout, std::cerr);
  throw snapbus::cli::UsageError("unknown command '" + std::string(command) + "'");
}

}  // namespace

int main(int argc, char** argv) {
  // 1. `emulate` has its own options and exit codes; hand it the rest of the command line.
  const std::vector<std::string> words(argv + 1, argv + argc);
  if (!words.empty() && words.front() == "emulate") return run_emulate(std::vector<std::string>(argv + 1, argv + argc));

  // 2. No command, or asking for help: the overview.
  if (words.empty() || words.front() == "--help" || words.front() == "-h" || words.front() == "help") {
    (words.empty() ? std::cerr : std::cout) << kUsage;
    return words.empty() ? snapbus::cli::kExitUsage : snapbus::cli::kExitOk;
  }

  // 3. Run the command; any error becomes one line on stderr and its exit code.
  const std::string& command = words.front();
  try {
    return run_command(command, std::span(words).subspan(1));
  } catch (const snapbus::cli::UsageError& error) {
    std::cerr << "snapbus " << command << ": " << error.what() << "\n(see 'snapbus " << command << " --help')\n";
    return snapbus::cli::kExitUsage;
  } catch (const snapbus::Error& error) {
    std::cerr << "snapbus " << command << ": " << error.what() << '\n';
    return snapbus::cli::exit_code_for(error.code());
  } catch (const std::exception& error) {
    std::cerr << "snapbus " << command << ": unexpected error: " << error.what() << '\n';
    return snapbus::cli::kExitError;
  }
}
