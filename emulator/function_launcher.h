// Starts the processes of a function the way Lambda does: external extensions from <opt>/extensions,
// the runtime through AWS_LAMBDA_EXEC_WRAPPER, each with the documented environment.
//
//   become_subreaper();                         // orphans of the function come back to us
//   auto env = function_environment(config, "127.0.0.1:9001", "on-demand", marker);
//   pid_t pid = spawn_process({.argv = runtime_argv(config), .env = env, .cwd = config.task_root}, &freezer);
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "freezer.h"
#include "snapbus/emulate_config.h"

namespace snapbus::emulator {

// Where a process's stdout and stderr go: these descriptors, or (-1) the emulator's own.
struct LaunchOutput {
  int stdout_fd = -1;
  int stderr_fd = -1;
};

struct LaunchSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE
  std::string cwd;
  LaunchOutput output;
};

class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

pid_t spawn_process(const LaunchSpec& spec, const Freezer* freezer);
// fork + exec in a new process group (so a terminal's ^C reaches only the emulator, which then
// shuts the function down in order), joined to the freezer, with SIGKILL as parent-death signal,
// its stdout and stderr on spec.output's descriptors when given.
// Throws LaunchError naming the program and errno when exec fails.

void become_subreaper();

std::vector<std::string> function_environment(const Config& config, const std::string& runtime_api,
                                              const std::string& init_type, const std::string& marker);
// The environment of every process of the function: inherited (unless --clean-env), then the user's
// env files, then the Lambda variables. `marker` (KEY=VALUE) tags processes for the final sweep.

std::vector<std::string> runtime_argv(const Config& config);
// The runtime command, behind the exec wrapper when one is configured.

std::vector<std::filesystem::path> find_extensions(const std::string& opt_dir);
// Executable regular files in <opt>/extensions, in name order (Lambda's order), none when unset.

}  // namespace snapbus::emulator
