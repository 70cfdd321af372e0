#include "snapbus/base64.h"

#include <kj/encoding.h>

namespace snapbus::lambda {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool is_canonical(std::string_view text) {
  if (text.size() % 4 != 0) return false;
  std::size_t end = text.size();
  for (int pad = 0; pad < 2 && end > 0 && text[end - 1] == '='; ++pad) --end;
  for (std::size_t i = 0; i < end; ++i) {
    if (kAlphabet.find(text[i]) == std::string_view::npos) return false;
  }
  // The bits a padded group leaves over must be zero (RFC 4648 3.5): otherwise "aGk=" and "aGl="
  // would both be "hi", and what is accepted would not be what encoding gives back.
  const std::size_t pad = text.size() - end;
  if (pad == 0) return true;
  const auto last = kAlphabet.find(text[end - 1]);
  const std::size_t unused_bits_mask = pad == 1 ? 0x3 : 0xF;
  return (last & unused_bits_mask) == 0;
}

}  // namespace

std::string encode_base64(std::string_view data) {
  const kj::String text = kj::encodeBase64(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()), data.size()));
  return {text.cStr(), text.size()};
}

std::optional<std::string> decode_base64(std::string_view text) {
  if (!is_canonical(text)) return std::nullopt;
  const auto decoded = kj::decodeBase64(kj::arrayPtr(text.data(), text.size()));
  if (decoded.hadErrors) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(decoded.begin()), decoded.size());
}

}  // namespace snapbus::lambda
