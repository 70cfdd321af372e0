#include "json_text.h"

#include <array>
#include <cstddef>
#include <string>

#include <boost/json.hpp>

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

// Byte classes for the scans below, which step over every other byte in one tight loop: a request's
// event is scanned whole for each member taken from it, bodies of megabytes included.
using ByteClass = std::array<bool, 256>;

constexpr ByteClass byte_class(std::string_view members) {
  ByteClass table{};
  for (const char c : members) table[static_cast<unsigned char>(c)] = true;
  return table;
}

constexpr ByteClass kContainerSyntaxOrSpace = byte_class("\"{}[] \t\n\r");
constexpr ByteClass kSpaceOrQuote = byte_class(" \t\n\r\"");

std::size_t next_of(const ByteClass& wanted, std::string_view text, std::size_t at) {
  while (at < text.size() && !wanted[static_cast<unsigned char>(text[at])]) ++at;
  return at;
}

// Where the string literal opening at `quote` ends (just past its closing quote): at the first quote
// after it that an even run of backslashes precedes, since "\\" is one escaped backslash. The end of
// the text when it is never closed. Each backslash is counted at most once, so a scan is linear.
std::size_t string_end(std::string_view text, std::size_t quote) {
  const std::size_t first = quote + 1;
  for (std::size_t from = first;;) {
    const std::size_t close = text.find('"', from);
    if (close == std::string_view::npos) return text.size();
    std::size_t backslashes = 0;
    while (close - backslashes > first && text[close - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return close + 1;
    from = close + 1;
  }
}

// A cursor over the document that never moves past its end: on text that is not JSON it stops there.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  [[nodiscard]] std::size_t at() const { return at_; }
  [[nodiscard]] bool done() const { return at_ >= text_.size(); }
  [[nodiscard]] char peek() const { return done() ? '\0' : text_[at_]; }
  [[nodiscard]] std::string_view since(std::size_t from) const { return text_.substr(from, at_ - from); }

  void skip_spaces() {
    while (!done() && is_json_space(text_[at_])) ++at_;
  }

  bool take(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }

  // A string literal, quotes included, from its opening quote.
  void skip_string() { at_ = string_end(text_, at_); }

  // One value: a string, an object or array with all it holds, or a literal (number, true, false,
  // null), which ends at the first character that cannot be in one. Whether it stepped over a space,
  // tab or line break between tokens (only a container can hold one): a value without is already on
  // one line.
  bool skip_value() {
    if (peek() == '"') {
      skip_string();
      return false;
    }
    if (peek() != '{' && peek() != '[') {
      while (!done() && !is_json_space(text_[at_]) && text_[at_] != ',' && text_[at_] != '}' && text_[at_] != ']')
        ++at_;
      return false;
    }
    bool spaced = false;
    std::size_t depth = 0;
    for (at_ = next_of(kContainerSyntaxOrSpace, text_, at_); !done();
         at_ = next_of(kContainerSyntaxOrSpace, text_, at_)) {
      const char c = text_[at_];
      if (c == '"') {
        skip_string();
        continue;
      }
      ++at_;
      if (is_json_space(c)) {
        spaced = true;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return spaced;
    }
    return spaced;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// Whether a key's literal (quotes included) names `key`: as written when it has no escape, else
// decoded by the JSON parser, since "request\u0043ontext" names requestContext too.
bool names(std::string_view literal, std::string_view key) {
  if (literal.size() < 2) return false;
  const std::string_view inside = literal.substr(1, literal.size() - 2);
  if (inside.find('\\') == std::string_view::npos) return inside == key;
  boost::system::error_code error;
  const json::value decoded = json::parse(json::string_view(literal.data(), literal.size()), error);
  return !error && decoded.is_string() && std::string_view(decoded.get_string()) == key;
}

}  // namespace

namespace {

// A member's value as written, and whether it holds spaces between its tokens (a string or a literal
// never does; a container may).
struct WrittenMember {
  std::string_view text;
  bool spaced = false;
};

std::optional<WrittenMember> find_member(std::string_view document, std::string_view key) {
  Scanner scan(document);
  scan.skip_spaces();
  if (!scan.take('{')) return std::nullopt;
  std::optional<WrittenMember> found;
  for (;;) {
    scan.skip_spaces();
    if (scan.peek() != '"') return found;  // '}' (or not JSON)
    const std::size_t key_from = scan.at();
    scan.skip_string();
    const bool wanted = names(scan.since(key_from), key);
    scan.skip_spaces();
    if (!scan.take(':')) return found;
    scan.skip_spaces();
    const std::size_t value_from = scan.at();
    const bool spaced = scan.skip_value();
    if (wanted) found = WrittenMember{.text = scan.since(value_from), .spaced = spaced};
    scan.skip_spaces();
    if (!scan.take(',')) return found;
  }
}

}  // namespace

std::optional<std::string_view> member_text(std::string_view document, std::string_view key) {
  const std::optional<WrittenMember> found = find_member(document, key);
  if (!found) return std::nullopt;
  return found->text;
}

std::string value_json_at(std::string_view document, std::size_t at) {
  Scanner scan(document.substr(at));
  const bool spaced = scan.skip_value();
  const std::string_view text = scan.since(0);
  return spaced ? compact_text(text) : std::string(text);
}

std::string member_json(std::string_view document, std::string_view key, const json::value& parsed) {
  const std::optional<WrittenMember> found = find_member(document, key);
  if (!found) return json::serialize(parsed);
  return found->spaced ? compact_text(found->text) : std::string(found->text);
}

std::string compact_text(std::string_view json_text) {
  std::string out;
  out.reserve(json_text.size());
  for (std::size_t at = 0; at < json_text.size();) {
    const std::size_t stop = next_of(kSpaceOrQuote, json_text, at);
    out.append(json_text.substr(at, stop - at));
    if (stop == json_text.size()) break;
    if (json_text[stop] == '"') {
      at = string_end(json_text, stop);
      out.append(json_text.substr(stop, at - stop));
    } else {
      at = stop + 1;
    }
  }
  return out;
}

}  // namespace snapbus::lambda
