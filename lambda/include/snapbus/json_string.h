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
//   json.key("deadline");
//   json.raw(std::to_string(ms));     // JSON text as it is
//   json.close('}');                  // out == {"request_id":"a\"b","arn":"...","deadline":1700000000000}
#pragma once

#include <string>
#include <string_view>

namespace snapbus::lambda {

// `text` as a JSON string literal, quotes included, appended to `out`: the bytes json::serialize
// gives (Boost.JSON escapes the quote, the backslash and control characters, as \n or \u001f, and
// writes every other byte as it is). Like Boost.JSON, it does not check UTF-8; text from outside
// goes through utf8_text first.
void append_json_string(std::string& out, std::string_view text);

// Appends members and list items to `out`, a comma before each but the first of its object or list.
// It does not check the nesting: the caller writes a key before each member's value.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void open(char bracket);  // '{' or '['
  void close(char bracket);
  void key(std::string_view name);
  void string(std::string_view text);
  void raw(std::string_view json_text);
  void member(std::string_view name, std::string_view text);  // key(name), then string(text)

 private:
  void item();

  std::string& out_;
  bool first_ = true;
};

}  // namespace snapbus::lambda
