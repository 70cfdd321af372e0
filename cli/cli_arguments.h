// The flags and operands of one `snapbus` subcommand.
//
//   constexpr snapbus::cli::FlagSpec kFlags[] = {{"--json", false}, {"--segment", true}};
//   snapbus::cli::Arguments args = snapbus::cli::parse_arguments(argv_rest, kFlags);
//   if (args.has("--json")) ...;
//   std::int64_t count = args.integer("--count").value_or(0);
//
// Both "--flag value" and "--flag=value". Anything unknown, a missing value or a malformed number
// is a UsageError, which the CLI reports with exit code 2.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace snapbus::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  std::string_view name;
  bool takes_value = false;
};

class Arguments {
 public:
  bool has(std::string_view flag) const;
  std::optional<std::string> value(std::string_view flag) const;
  // The flag's value as a non-negative integer; UsageError when it is not one.
  std::optional<std::int64_t> integer(std::string_view flag) const;
  const std::vector<std::string>& operands() const noexcept { return operands_; }

 private:
  friend Arguments parse_arguments(std::span<const std::string> args, std::span<const FlagSpec> flags);
  std::map<std::string, std::string, std::less<>> flags_;  // valueless flags map to ""
  std::vector<std::string> operands_;
};

Arguments parse_arguments(std::span<const std::string> args, std::span<const FlagSpec> flags);

}  // namespace snapbus::cli
