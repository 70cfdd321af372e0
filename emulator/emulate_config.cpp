#include "snapbus/emulate_config.h"

#include <cctype>
#include <sstream>

#include <fmt/format.h>

#include "snapbus/text.h"

namespace snapbus::emulator {

std::map<std::string, std::string> parse_env_file(const std::string& text, const std::string& origin) {
  std::map<std::string, std::string> vars;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string content(trim(line));
    if (content.empty() || content[0] == '#') continue;
    if (content.rfind("export ", 0) == 0) content = std::string(trim(std::string_view(content).substr(7)));
    const auto eq = content.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError(fmt::format("{}:{}: expected KEY=VALUE, got '{}'", origin, number, content));
    }
    std::string name(trim(std::string_view(content).substr(0, eq)));
    std::string value(trim(std::string_view(content).substr(eq + 1)));
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      // A quoted value ends at its closing quote; only a comment may follow.
      const auto close = value.find(value.front(), 1);
      if (close == std::string::npos) {
        throw ConfigError(fmt::format("{}:{}: the value of {} opens a quote it never closes", origin, number, name));
      }
      const std::string_view after = trim(std::string_view(value).substr(close + 1));
      if (!after.empty() && after.front() != '#') {
        throw ConfigError(fmt::format("{}:{}: '{}' follows the quoted value of {} (quote the whole value)", origin,
                                      number, after, name));
      }
      value = value.substr(1, close - 1);
    }
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
        throw ConfigError(fmt::format("{}:{}: '{}' is not a valid variable name", origin, number, name));
      }
    }
    vars[name] = value;
  }
  return vars;
}

}  // namespace snapbus::emulator
