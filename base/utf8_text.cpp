#include "snapbus/utf8_text.h"

#include <cstdint>
#include <cstring>

#include "snapbus/byte_words.h"

namespace snapbus {
namespace {

// The length of the well-formed UTF-8 sequence (RFC 3629) `text` starts with; 0 when it starts with none.
std::size_t sequence_length(std::string_view text) {
  const auto byte = [text](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(0);
  if (lead < 0x80U) return 1;
  // The second byte's range is narrower for some leads: that rules out overlong forms (E0, F0),
  // surrogates (ED) and code points above U+10FFFF (F4). C0, C1 and F5..FF never lead.
  std::size_t length = 0;
  std::uint8_t low = 0x80U;
  std::uint8_t high = 0xBFU;
  if (lead >= 0xC2U && lead <= 0xDFU) {
    length = 2;
  } else if (lead >= 0xE0U && lead <= 0xEFU) {
    length = 3;
    if (lead == 0xE0U) low = 0xA0U;
    if (lead == 0xEDU) high = 0x9FU;
  } else if (lead >= 0xF0U && lead <= 0xF4U) {
    length = 4;
    if (lead == 0xF0U) low = 0x90U;
    if (lead == 0xF4U) high = 0x8FU;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80U || byte(i) > 0xBFU) return 0;
  }
  return length;
}

// windows-1252's 0x80 to 0x9F (the WHATWG index; the five it leaves undefined are the C1 controls).
constexpr char32_t kWindows1252High[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                           0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
                                           0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                           0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
  // Eight bytes at a time while they are all ASCII: most text is, and every buffered answer's body,
  // up to 6 MB, is checked here before it goes into the result.
  for (std::size_t i = 0; i < text.size();) {
    if (std::uint64_t word = 0; i + sizeof word <= text.size()) {
      std::memcpy(&word, text.data() + i, sizeof word);
      if (!has_high_byte(word)) {
        i += sizeof word;
        continue;
      }
    }
    const std::size_t length = sequence_length(text.substr(i));
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string utf8_text(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto code = static_cast<std::uint8_t>(c);
    if (code < 0x80U) {
      text += c;
    } else {
      text += static_cast<char>(0xC0U | (code >> 6U));
      text += static_cast<char>(0x80U | (code & 0x3FU));
    }
  }
  return text;
}

std::string windows_1252_text(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto code = static_cast<std::uint8_t>(c);
    append_code_point(text, code >= 0x80U && code < 0xA0U ? kWindows1252High[code - 0x80U] : char32_t{code});
  }
  return text;
}

std::string utf8_replacing_invalid(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t length = sequence_length(bytes.substr(i));
    if (length == 0) {
      text += "\xEF\xBF\xBD";
      ++i;
    } else {
      text.append(bytes.substr(i, length));
      i += length;
    }
  }
  return text;
}

void append_code_point(std::string& text, char32_t code) {
  if (code < 0x80U) {
    text += static_cast<char>(code);
  } else if (code < 0x800U) {
    text += static_cast<char>(0xC0U | (code >> 6U));
    text += static_cast<char>(0x80U | (code & 0x3FU));
  } else {
    text += static_cast<char>(0xE0U | (code >> 12U));
    text += static_cast<char>(0x80U | ((code >> 6U) & 0x3FU));
    text += static_cast<char>(0x80U | (code & 0x3FU));
  }
}

}  // namespace snapbus
