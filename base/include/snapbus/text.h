// Small text operations that several parsers (env files, HTTP header lists, /proc files) share.
//
//   snapbus::trim("  KEY=value \r")                 // "KEY=value"
//   snapbus::parse_number<unsigned>("128", 1, 10240) // 128
//   snapbus::parse_number<int>("12x", 0, 99)         // nullopt
//   snapbus::is_uri_unreserved('~')                  // true; '/' and '%' are not
//   snapbus::hex_digit('b')                          // 11
#pragma once

#include <array>
#include <charconv>
#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace snapbus {

inline constexpr std::string_view kBlanks = " \t\r\n";

// `text` without leading and trailing characters from `blanks`.
std::string_view trim(std::string_view text, std::string_view blanks = kBlanks) noexcept;

namespace detail {
inline constexpr auto kUriUnreserved = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_' || c == '~';
  }
  return table;
}();
}  // namespace detail

// RFC 3986's unreserved characters (ALPHA, DIGIT, "-", ".", "_", "~"): what a URI carries without a
// %XX escape. By table, since every request id and every query parameter of an event goes through it.
constexpr bool is_uri_unreserved(char c) noexcept { return detail::kUriUnreserved[static_cast<unsigned char>(c)]; }

// The value of the hexadecimal digit `c` (either case), or -1 when it is none.
constexpr int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` with its %XX escapes decoded, and '+' read as a space when `plus_is_space` (a form-encoded
// query). A '%' that starts no escape is kept as it is. The result is any bytes, UTF-8 or not.
std::string percent_decoded(std::string_view text, bool plus_is_space);

// The whole of `text` as a decimal number in [min, max]; nullopt for anything else (empty, a sign
// the type cannot hold, trailing characters, out of range). Callers own the error sentence: they
// know which flag or variable the text came from.
template <std::integral Int>
std::optional<Int> parse_number(std::string_view text, Int min, Int max) noexcept {
  Int value{};
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value < min || value > max) return std::nullopt;
  return value;
}

}  // namespace snapbus
