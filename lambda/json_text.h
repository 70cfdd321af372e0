// JSON text as it was written: what a header that passes a part of an event on should carry, rather
// than the part parsed and serialized again (which turns 0.5 into 5E-1, rounds a long integer through
// a double, and writes 1e999 as Infinity, which is not JSON).
//
//   // {"requestContext": {"timeEpoch": 1e999},
//   //  "body": ""}
//   std::optional<std::string_view> text = member_text(payload, "requestContext");
//   // *text == R"({"timeEpoch": 1e999})"
//   std::string one_line = compact_text(*text);   // {"timeEpoch":1e999}
//   // Both at once, for a member the caller has parsed as `context`:
//   std::string header = member_json(payload, "requestContext", context);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace snapbus::lambda {

// The four bytes JSON allows between its tokens.
constexpr bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::optional<std::string_view> member_text(std::string_view document, std::string_view key);
// The value of `key` in the object `document` is, exactly as written (a view into `document`), when
// that object has it at its top level; the last one when the key appears more than once, as a parser
// keeps the last. Keys compare after their escapes are decoded. `document` must be valid JSON (one
// the caller has parsed); for any other text the answer is nullopt or some span of it, never a read
// outside it.

std::string compact_text(std::string_view json_text);
// `json_text` without the spaces, tabs and line breaks between its tokens (those inside strings
// stay): one line, fit for a header value, with every token as written.

std::string value_json_at(std::string_view document, std::size_t at);
// The value that begins at `at` in `document` (valid JSON, where the caller's parser saw it begin) as
// written, on one line: member_json's answer when the member's place is known, without a scan of the
// text before it.

std::string member_json(std::string_view document, std::string_view key, const boost::json::value& parsed);
// The member `key` of `document` as written, on one line (member_text, then compact_text); `parsed`
// (that member as the caller parsed it) serialized, should member_text not find it.

}  // namespace snapbus::lambda
