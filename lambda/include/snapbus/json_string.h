// JSON written by hand on a hot path, where Boost.JSON would have built a json::object and
// serialized it, at several times the cost per invocation: string literals, and the commas and
// brackets around members and list items.
//
//   std::string out;
//   snapbus::lambda::JsonWriter json(out);
//   json.open('{');
//   json.key("request_id");
//   json.string(id);                  // appends "a\"b", escaped
//   json.member("arn", arn);          // the same in one call
//   json.key(JsonKey("deadline"));    // a name known when compiled: checked then, written in one copy
//   json.raw(std::to_string(ms));     // JSON text as it is
//   json.close('}');                  // out == {"request_id":"a\"b","arn":"...","deadline":1700000000000}
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace snapbus::lambda {

// `text` as a JSON string literal, quotes included, appended to `out`: the bytes json::serialize
// gives (Boost.JSON escapes the quote, the backslash and control characters, as \n or \u001f, and
// writes every other byte as it is). Like Boost.JSON, it does not check UTF-8; text from outside
// goes through utf8_text first.
void append_json_string(std::string& out, std::string_view text);

// Rewrites each DEL (0x7f) in the JSON text `json` as the escape \u007f: the same JSON (JSON writes DEL
// as it is, and it can stand only inside a string), and text an HTTP field value can carry, which DEL
// cannot be part of (RFC 9110 5.5; Beast, Node.js and h11 refuse the whole request). For a header that
// passes JSON on. One memchr when there is none.
void escape_deletes(std::string& json);

// A member name written in the source: checked when compiled to need no escape, and held as it goes
// out, "name": with its quotes and colon, so that a key costs one copy instead of a check of its
// bytes. Most keys of a result and of x-amzn-lambda-context are such names.
template <std::size_t N>
class JsonKey {
 public:
  consteval explicit JsonKey(const char (&name)[N]) : written_{} {
    written_[0] = '"';
    for (std::size_t at = 0; at + 1 < N; ++at) {
      const char c = name[at];
      // Reached only for a name that needs an escape, and then the name does not compile.
      if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
        throw std::invalid_argument("a JsonKey needs no escape");
      }
      written_[at + 1] = c;
    }
    written_[N] = '"';
    written_[N + 1] = ':';
  }

  [[nodiscard]] constexpr std::string_view written() const { return {written_.data(), written_.size()}; }

 private:
  std::array<char, N + 2> written_;  // the N - 1 characters, two quotes and the colon
};

// Appends members and list items to `out`, a comma before each but the first of its object or list.
// It does not check the nesting: the caller writes a key before each member's value.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  // The calls made for every member are defined here, inline: out of line, their calls cost as much
  // as their work (a result and a context header make about thirty of them per invocation).
  void open(char bracket) {  // '{' or '['
    item();
    out_.push_back(bracket);
    first_ = true;
  }
  void close(char bracket) {
    out_.push_back(bracket);
    first_ = false;
  }
  void key(std::string_view name);
  template <std::size_t N>
  void key(const JsonKey<N>& name) {
    written_key(name.written());
  }
  void string(std::string_view text);
  void raw(std::string_view json_text) {
    item();
    out_.append(json_text);
  }
  void member(std::string_view name, std::string_view text);  // key(name), then string(text)
  template <std::size_t N>
  void member(const JsonKey<N>& name, std::string_view text) {
    key(name);
    string(text);
  }

 private:
  void item() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  void written_key(std::string_view written) {
    item();
    out_.append(written);
    first_ = true;
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace snapbus::lambda
