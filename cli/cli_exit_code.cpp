#include "cli_exit_code.h"

namespace snapbus::cli {

int exit_code_for(Errc code) noexcept {
  switch (code) {
    case Errc::ok: return kExitOk;
    case Errc::not_found: return kExitNoSegment;
    case Errc::busy: return kExitBusy;
    case Errc::invalid_argument: return kExitUsage;
    default: return kExitError;
  }
}

}  // namespace snapbus::cli
