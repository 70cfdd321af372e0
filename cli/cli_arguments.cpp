#include "cli_arguments.h"

#include <algorithm>
#include <charconv>

namespace snapbus::cli {

bool Arguments::has(std::string_view flag) const { return flags_.find(flag) != flags_.end(); }

std::optional<std::string> Arguments::value(std::string_view flag) const {
  const auto found = flags_.find(flag);
  if (found == flags_.end()) return std::nullopt;
  return found->second;
}

std::optional<std::int64_t> Arguments::integer(std::string_view flag) const {
  const std::optional<std::string> text = value(flag);
  if (!text) return std::nullopt;
  std::int64_t number = 0;
  const char* end = text->data() + text->size();
  const auto [stop, error] = std::from_chars(text->data(), end, number);
  if (error != std::errc() || stop != end || number < 0) {
    throw UsageError(std::string(flag) + " needs a non-negative integer, not '" + *text + "'");
  }
  return number;
}

Arguments parse_arguments(std::span<const std::string> args, std::span<const FlagSpec> flags) {
  Arguments parsed;
  bool only_operands = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_operands || arg.size() < 2 || arg[0] != '-') {
      parsed.operands_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_operands = true;
      continue;
    }
    const std::size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const auto spec = std::find_if(flags.begin(), flags.end(),
                                   [&](const FlagSpec& flag) { return flag.name == name; });
    if (spec == flags.end()) throw UsageError("unknown option '" + name + "'");
    if (!spec->takes_value) {
      if (equals != std::string::npos) throw UsageError(name + " takes no value");
      parsed.flags_[name] = "";
    } else if (equals != std::string::npos) {
      parsed.flags_[name] = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      parsed.flags_[name] = args[++i];
    } else {
      throw UsageError(name + " needs a value");
    }
  }
  return parsed;
}

}  // namespace snapbus::cli
