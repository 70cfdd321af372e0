// Base64 (RFC 4648, standard alphabet, with padding) for event bodies and the streaming error
// trailer, over kj's codec. kj decodes the way browsers' atob does (skipping whitespace, padding
// optional); Lambda's fields are canonical base64, so decoding here refuses anything else.
//
//   std::string text = encode_base64("hi");                  // "aGk="
//   std::optional<std::string> raw = decode_base64(text);     // "hi"; nullopt for "aGk", "a Gk="
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace snapbus::lambda {

std::string encode_base64(std::string_view data);

// nullopt unless `text` is a multiple of 4 characters of the alphabet with at most two '=' at the end,
// and the bits padding leaves over in the last group are zero (canonical: encoding gives it back).
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace snapbus::lambda
