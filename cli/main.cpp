// The `snapbus` executable: one command per run.
//
//   snapbus status [--json]          snapbus watch [--json] [--count N]
//   snapbus publish restore          snapbus emulate [options] -- <function command>
//   snapbus adapter                  (also: started without arguments as <dir>/extensions/snapbus)
//
// Exit codes: status, watch and publish share cli_exit_code.h (0 ok, 1 not acknowledged, 2 usage,
// 3 no segment, 4 busy, 5 error, 130 interrupted); emulate has its own (emulate_command.h).
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapter_command.h"
#include "cli_exit_code.h"
#include "cli_publish.h"
#include "cli_status.h"
#include "cli_watch.h"
#include "command_line.h"
#include "output_reader.h"
#include "snapbus/config.h"
#include "snapbus/error.h"
#include "standard_streams.h"
#include "write_error_recorder.h"

#if SNAPBUS_WITH_EMULATOR
#include "emulate_command.h"
#include "snapbus/emulator.h"
#endif

namespace {

using snapbus::cli::ExitCode;

struct Command {
  std::string_view name;
  std::string_view summary;
  // Runs the command on the words after its name; returns the exit code.
  std::function<int(std::span<const std::string>)> run;
};

int code(ExitCode exit) { return static_cast<int>(exit); }

// Whether the process started with stdout closed (it is /dev/null since): printing is then an error.
bool stdout_was_closed = false;

// What status, watch or publish printed must have reached stdout: a full disk or a closed stdout is
// an error (exit 5, as a failed system call), never a success, as for coreutils. SIGPIPE is
// ignored while the command runs, so a reader that goes away (`snapbus publish restore | head -1`)
// fails a write instead of killing the process halfway through a step, with the lifecycle left in
// the middle: the command runs to its end, and the message says so, with the code it ended with.
int run_printing(const std::string& command, const std::function<int()>& body) {
  static_cast<void>(std::signal(SIGPIPE, SIG_IGN));
  // The first failed write's errno, kept: the command goes on after it, through other system calls.
  snapbus::cli::WriteErrorRecorder recorder(std::cout.rdbuf());
  // cout gets its own buffer back however the command ends (a refusal throws), before the recorder goes.
  struct RestoreOnExit {
    std::streambuf* buffer;
    ~RestoreOnExit() { std::cout.rdbuf(buffer); }
  } const restore{std::cout.rdbuf(&recorder)};
  const int exit_code = body();
  errno = 0;
  std::cout.flush();
  // Flushed even when cout failed already: what an earlier failed write left buffered is tried
  // again, and says why it fails.
  const bool flushed = std::fflush(stdout) == 0;
  const bool printed_to_nothing = stdout_was_closed && recorder.printed();
  if (std::cout.good() && flushed && std::ferror(stdout) == 0 && !printed_to_nothing) return exit_code;
  int error = printed_to_nothing ? EBADF : recorder.first_error() != 0 ? recorder.first_error() : errno;
  // A write that failed without an errno (none expected): a reader that left is still seen.
  if (error == 0 && snapbus::cli::output_reader_gone(STDOUT_FILENO)) error = EPIPE;
  std::cerr << "snapbus " << command << ": cannot write to stdout" << (error != 0 ? ": " : "")
            << (error != 0 ? std::strerror(error) : "") << " (the command itself ran to its end, with exit code "
            << exit_code << ")\n";
  return exit_code == code(ExitCode::ok) ? code(ExitCode::error) : exit_code;
}

// The words' defaults come from the environment, so it is read before they are parsed; but a
// malformed SNAPBUS_* variable must not hide the help that explains it. The words are then parsed
// against the built-in defaults: if they ask for help, that wins; otherwise the variable's error stands.
template <typename Parse>
snapbus::Config environment_unless_help(std::span<const std::string> words, Parse parse) {
  try {
    return snapbus::config_from_environment();
  } catch (const snapbus::Error&) {
    try {
      static_cast<void>(parse(words, snapbus::Config{}));
    } catch (const snapbus::cli::HelpRequested&) {
      throw;
    } catch (...) {
      // Another mistake in the words: the environment's error is reported first, as before.
    }
    throw;
  }
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table {
    {"status", "show the lifecycle state and every subscriber",
     [](std::span<const std::string> words) {
       const snapbus::Config config = environment_unless_help(words, snapbus::cli::parse_status_command);
       const auto request = snapbus::cli::parse_status_command(words, config);
       return run_printing("status", [&] { return code(snapbus::cli::run_status(request, config, std::cout)); });
     }},
        {"watch", "print each lifecycle change as it happens",
         [](std::span<const std::string> words) {
           const snapbus::Config config = environment_unless_help(words, snapbus::cli::parse_watch_command);
           const auto request = snapbus::cli::parse_watch_command(words, config);
           return run_printing("watch", [&] {
             return code(snapbus::cli::run_watch(request, config, std::cout, std::cerr, STDOUT_FILENO));
           });
         }},
        {"adapter", "run the Lambda adapter in front of a web app (what /opt/extensions/snapbus runs)",
         [](std::span<const std::string> words) { return snapbus::cli::run_adapter_command(words, std::nullopt); }},
        {"proxy", "run the adapter as a Runtime API proxy for a runtime client it does not replace",
         [](std::span<const std::string> words) {
           return snapbus::cli::run_adapter_command(words, std::nullopt, snapbus::cli::AdapterCommand::proxy);
         }},
        {"publish", "drive the lifecycle by hand: starting, before-snapshot, restore, running, shutdown",
         [](std::span<const std::string> words) {
           const snapbus::Config config = environment_unless_help(words, snapbus::cli::parse_publish_command);
           const auto request = snapbus::cli::parse_publish_command(words, config);
           return run_printing("publish",
                               [&] { return code(snapbus::cli::run_publish(request, config, std::cout, std::cerr)); });
         }},
#if SNAPBUS_WITH_EMULATOR
        {"emulate", "run a function in a local Lambda with SnapStart", [](std::span<const std::string> words) {
           const snapbus::emulator::Config config = snapbus::cli::parse_emulate_command(words);
           try {
             return snapbus::emulator::run_emulator(config);
           } catch (const std::exception& error) {
             std::cerr << "snapbus emulate: internal error: " << error.what() << '\n';
             return snapbus::emulator::kExitInternalError;
           }
         }},
#endif
  };
  return table;
}

// Where the summaries start, in the command list and the option list alike.
constexpr std::size_t kOverviewColumn = 13;

std::string overview() {
  std::string text = "commands:";
  for (const Command& command : commands()) {
    text += "\n  " + std::string(command.name) + std::string(kOverviewColumn - 2 - command.name.size(), ' ') +
            std::string(command.summary);
  }
  return text;
}

// The top level: the help flag, and everything from the first other word on left for a command.
std::unique_ptr<CLI::App> top_level_app() {
  auto app = snapbus::cli::command_app(
      "snapbus", overview(),
      "'snapbus <command> --help' (or 'snapbus help <command>') describes each command's options;\n"
      "'snapbus --version' prints the version.\n"
      "environment: SNAPBUS_SEGMENT (segment file, default /tmp/snapbus.seg), SNAPBUS_SEGMENT_GROUP,\n"
      "SNAPBUS_SLOTS, SNAPBUS_ACK_TIMEOUT_MS, SNAPBUS_NAME",
      kOverviewColumn, "<command> [options]");
  app->prefix_command();
  return app;
}

const Command* find_command(std::string_view name) {
  for (const Command& command : commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  stdout_was_closed = snapbus::cli::hold_standard_streams_open();
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  // 0. Started by Lambda as /opt/extensions/snapbus: the adapter, configured by the environment.
  if (auto extension = snapbus::cli::extension_name_for(argv[0], argc - 1)) {
    try {
      return snapbus::cli::run_adapter_command({}, std::move(extension), snapbus::cli::AdapterCommand::adapter,
                                               argv[0]);
    } catch (const snapbus::cli::UsageError& error) {
      std::cerr << "[snapbus] " << error.what() << '\n';
      return code(ExitCode::usage);
    }
  }
  // 1. The top level: a command, or asking for help. No command at all is a usage error.
  const auto app = top_level_app();
  std::vector<std::string> words;
  try {
    snapbus::cli::parse_command_line(*app, arguments);
    words = app->remaining();
  } catch (const snapbus::cli::HelpRequested& help) {
    return run_printing("--help", [&] {
      std::cout << help.text();
      return code(ExitCode::ok);
    });
  }
  if (words.empty()) {
    std::cerr << app->help();
    return code(ExitCode::usage);
  }
  if (words.front() == "--version" || words.front() == "version") {
    return run_printing("--version", [] {
      std::cout << "snapbus " << SNAPBUS_VERSION << '\n';
      return code(ExitCode::ok);
    });
  }
  if (words.front() == "help") {
    // `snapbus help status` is `snapbus status --help`; `snapbus help bogus` is the unknown command below.
    if (words.size() < 2) {
      return run_printing("help", [&] {
        std::cout << app->help();
        return code(ExitCode::ok);
      });
    }
    words = {words[1], "--help"};
  }

  const std::string& command = words.front();
  const Command* found = find_command(command);
  if (found == nullptr) {
    std::cerr << "snapbus: "
              << (command == "emulate" ? "this snapbus was built without the emulator (SNAPBUS_WITH_EMULATOR=OFF)"
                                       : "unknown command '" + command + "'")
              << "\n(see 'snapbus --help')\n";
    return code(ExitCode::usage);
  }

  // 2. Run the command; any error becomes one line on stderr and its exit code.
  try {
    return found->run(std::span(words).subspan(1));
  } catch (const snapbus::cli::HelpRequested& help) {
    return run_printing(command + " --help", [&] {
      std::cout << help.text();
      return code(ExitCode::ok);
    });
  } catch (const snapbus::cli::UsageError& error) {
    std::cerr << "snapbus " << command << ": " << error.what() << "\n(see 'snapbus " << command << " --help')\n";
    return code(ExitCode::usage);
  } catch (const snapbus::Error& error) {
    std::cerr << "snapbus " << command << ": " << error.what() << '\n';
    return code(snapbus::cli::exit_code_for(error.code()));
  } catch (const std::exception& error) {
    std::cerr << "snapbus " << command << ": unexpected error: " << error.what() << '\n';
    return code(ExitCode::error);
  }
}
