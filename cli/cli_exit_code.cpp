#include "cli_exit_code.h"

namespace snapbus::cli {

ExitCode exit_code_for(Errc code) noexcept {
  switch (code) {
    case Errc::ok: return ExitCode::ok;
    case Errc::not_found: return ExitCode::no_segment;
    case Errc::busy: return ExitCode::busy;
    case Errc::invalid_argument: return ExitCode::usage;
    default: return ExitCode::error;
  }
}

}  // namespace snapbus::cli
