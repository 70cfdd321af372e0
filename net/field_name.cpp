#include "snapbus/field_name.h"

#include <algorithm>

namespace snapbus::net {

bool is_field_name(std::string_view name) {
  // Spelled out rather than std::isalnum, which follows the C locale's idea of a letter.
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

}  // namespace snapbus::net
