#include "snapbus/json_string.h"

#include <algorithm>
#include <cstddef>

#include <boost/json/serializer.hpp>

namespace snapbus::lambda {

void append_json_string(std::string& out, std::string_view text) {
  // Boost.JSON's own serializer, reset to a string and read straight into `out`: its escapes and its
  // pace (a fast scan over plain runs), without a json::value built first or a string returned and
  // copied. The literal's size is known only after the escapes, so the room left grows until done.
  boost::json::serializer serializer;
  serializer.reset(boost::json::string_view(text.data(), text.size()));
  std::size_t room = text.size() + 2;
  while (!serializer.done()) {
    const std::size_t start = out.size();
    out.resize(start + room);
    const std::size_t written = serializer.read(out.data() + start, room).size();
    out.resize(start + written);
    room = std::max<std::size_t>(room / 2, 64);
  }
}

void JsonWriter::open(char bracket) {
  item();
  out_.push_back(bracket);
  first_ = true;
}

void JsonWriter::close(char bracket) {
  out_.push_back(bracket);
  first_ = false;
}

void JsonWriter::key(std::string_view name) {
  item();
  append_json_string(out_, name);
  out_.push_back(':');
  first_ = true;  // the value that follows takes no comma
}

void JsonWriter::string(std::string_view text) {
  item();
  append_json_string(out_, text);
}

void JsonWriter::raw(std::string_view json_text) {
  item();
  out_.append(json_text);
}

void JsonWriter::member(std::string_view name, std::string_view text) {
  key(name);
  string(text);
}

void JsonWriter::item() {
  if (!first_) out_.push_back(',');
  first_ = false;
}

}  // namespace snapbus::lambda
