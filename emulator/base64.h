// Base64 (RFC 4648, with padding) for event bodies and the streaming error trailer.
//
//   std::string text = base64_encode("hi");            // "aGk="
//   std::optional<std::string> raw = base64_decode(text);
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace snapbus::emulator {

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);
// nullopt when `text` is not valid base64 (whitespace is not skipped).

}  // namespace snapbus::emulator
