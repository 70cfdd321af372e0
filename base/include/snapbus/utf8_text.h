// Text that may go into JSON. Lambda's payloads are JSON, and JSON is UTF-8, but what an app sends
// (a header value, a body, an error page) and what the segment holds (a hook's name) are bytes:
// Boost.JSON writes a string's bytes as they are, so one byte such as 0xE9 (é in ISO-8859-1)
// would make the whole payload invalid JSON.
//
//   snapbus::is_valid_utf8("café");        // true
//   snapbus::is_valid_utf8("caf\xe9");     // false
//   snapbus::utf8_text("caf\xe9");         // "café": the bytes read as ISO-8859-1
//   snapbus::utf8_text("café");            // unchanged
//   snapbus::utf8_replacing_invalid("caf\xe9");  // "caf\uFFFD"
//   snapbus::windows_1252_text("\x93caf\xe9\x94");  // "“café”"
//   snapbus::append_code_point(text, U'é');       // text += "\xC3\xA9"
#pragma once

#include <string>
#include <string_view>

namespace snapbus {

// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above
// U+10FFFF. Reads the text once and allocates nothing.
bool is_valid_utf8(std::string_view text) noexcept;

// `bytes` when they are valid UTF-8; otherwise every byte read as one ISO-8859-1 character. Why
// ISO-8859-1: it is the charset HTTP's obs-text bytes in header values historically meant
// (RFC 9110, 5.5), it maps every byte (nothing is dropped or replaced), and the original bytes can
// be recovered from the result.
std::string utf8_text(std::string_view bytes);

// `bytes` with every byte outside a well-formed sequence replaced by U+FFFD, as Lambda's Function
// URLs put a request's path and headers into the event: what a client sent, not what an app meant.
std::string utf8_replacing_invalid(std::string_view bytes);

// `bytes` read as windows-1252, as a browser (the WHATWG Encoding Standard) reads a page labelled
// ISO-8859-1 too: the same characters but for 0x80 to 0x9F, which are the typographic quotes, dashes
// and the euro sign there instead of C1 controls. Every byte maps to one character.
std::string windows_1252_text(std::string_view bytes);

// `code`, a code point below U+10000 that is not a surrogate, appended to `text` as UTF-8.
void append_code_point(std::string& text, char32_t code);

}  // namespace snapbus
