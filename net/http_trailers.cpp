#include "snapbus/http_trailers.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <boost/beast/core/string.hpp>

#include "snapbus/field_name.h"

namespace snapbus::net {

const std::string* find_trailer(const Trailers& trailers, std::string_view name) {
  for (const TrailerField& field : trailers) {
    if (boost::beast::iequals(field.name, name)) return &field.value;
  }
  return nullptr;
}

std::string trailer_part(const Trailers& trailers) {
  std::size_t size = 2;
  for (const TrailerField& field : trailers) {
    if (!is_field_name(field.name)) {
      throw std::invalid_argument(fmt::format("'{}' cannot be the name of a trailer field", field.name));
    }
    if (!std::all_of(field.value.begin(), field.value.end(), is_field_value_char)) {
      throw std::invalid_argument(
          fmt::format("the value of trailer field {} holds a control character other than tab", field.name));
    }
    size += field.name.size() + field.value.size() + 4;
  }
  std::string part;
  part.reserve(size);
  for (const TrailerField& field : trailers) {
    part.append(field.name).append(": ").append(field.value).append("\r\n");
  }
  part.append("\r\n");
  return part;
}

}  // namespace snapbus::net
