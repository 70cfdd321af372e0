#include "snapbus/base64.h"

#include <kj/encoding.h>

namespace snapbus::lambda {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool is_canonical(std::string_view text) {
  if (text.size() % 4 != 0) return false;
  std::size_t end = text.size();
  for (int pad = 0; pad < 2 && end > 0 && text[end - 1] == '='; ++pad) --end;
  for (std::size_t i = 0; i < end; ++i) {
    if (!in_alphabet(text[i])) return false;
  }
  return true;
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
