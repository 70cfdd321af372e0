#include "json_text.h"

#include <cstddef>
#include <string>

#include <boost/json.hpp>

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A cursor over the document that never moves past its end: on text that is not JSON it stops there.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  [[nodiscard]] std::size_t at() const { return at_; }
  [[nodiscard]] bool done() const { return at_ >= text_.size(); }
  [[nodiscard]] char peek() const { return done() ? '\0' : text_[at_]; }
  [[nodiscard]] std::string_view since(std::size_t from) const { return text_.substr(from, at_ - from); }

  void skip_spaces() {
    while (!done() && is_space(text_[at_])) ++at_;
  }

  bool take(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }

  // A string literal, quotes included, from its opening quote.
  void skip_string() {
    ++at_;
    while (!done() && text_[at_] != '"') at_ += text_[at_] == '\\' ? 2 : 1;
    if (!done()) ++at_;
  }

  // One value: a string, an object or array with all it holds, or a literal (number, true, false,
  // null), which ends at the first character that cannot be in one.
  void skip_value() {
    if (peek() == '"') {
      skip_string();
      return;
    }
    if (peek() != '{' && peek() != '[') {
      while (!done() && !is_space(text_[at_]) && text_[at_] != ',' && text_[at_] != '}' && text_[at_] != ']') ++at_;
      return;
    }
    std::size_t depth = 0;
    while (!done()) {
      const char c = text_[at_];
      if (c == '"') {
        skip_string();
        continue;
      }
      ++at_;
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return;
    }
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// Whether a key's literal (quotes included) names `key`: as written when it has no escape, else
// decoded by the JSON parser, since "req\u0043ontext" names requestContext too.
bool names(std::string_view literal, std::string_view key) {
  if (literal.size() < 2) return false;
  const std::string_view inside = literal.substr(1, literal.size() - 2);
  if (inside.find('\\') == std::string_view::npos) return inside == key;
  boost::system::error_code error;
  const json::value decoded = json::parse(json::string_view(literal.data(), literal.size()), error);
  return !error && decoded.is_string() && std::string_view(decoded.get_string()) == key;
}

}  // namespace

std::optional<std::string_view> member_text(std::string_view document, std::string_view key) {
  Scanner scan(document);
  scan.skip_spaces();
  if (!scan.take('{')) return std::nullopt;
  std::optional<std::string_view> found;
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
    scan.skip_value();
    if (wanted) found = scan.since(value_from);
    scan.skip_spaces();
    if (!scan.take(',')) return found;
  }
}

std::string member_json(std::string_view document, std::string_view key, const json::value& parsed) {
  const std::optional<std::string_view> written = member_text(document, key);
  return written ? compact_text(*written) : json::serialize(parsed);
}

std::string compact_text(std::string_view json_text) {
  std::string out;
  out.reserve(json_text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < json_text.size(); ++i) {
    const char c = json_text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json_text.size()) {
        out += json_text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (is_space(c)) continue;
    if (c == '"') in_string = true;
    out += c;
  }
  return out;
}

}  // namespace snapbus::lambda
