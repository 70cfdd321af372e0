// Parsing one `snapbus` command's words with CLI11, and the two ways parsing ends early.
//
//   CLI::App app("...", "snapbus watch");
//   std::optional<std::int64_t> count;
//   snapbus::cli::add_number_option(app, "--count", count, "exit after N lines");
//   snapbus::cli::parse_command_line(app, words);  // words after "watch"; may throw below
//
// Both "--flag value" and "--flag=value". A mistake (unknown option, missing value, malformed
// number) throws UsageError with a sentence; -h or --help throws HelpRequested with the help text.
// main.cpp turns the first into exit code 2 and the second into the text on stdout and exit 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

namespace snapbus::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Not an error: the user asked for the help, which `text` holds.
class HelpRequested {
 public:
  explicit HelpRequested(std::string text) : text_(std::move(text)) {}
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
};

// How a command prints its result: for people, or one JSON object per result for scripts.
enum class OutputFormat { text, json };

// An app for the command `name` ("snapbus status") laid out by HelpFormatter: `description` after
// the usage line, option descriptions from `column`, `footer` (the exit codes) last.
std::unique_ptr<CLI::App> command_app(const std::string& name, const std::string& description,
                                      const std::string& footer, std::size_t column, std::string synopsis = {});

// Parses `words` (the command line after the command's own name) into the options bound to `app`.
void parse_command_line(CLI::App& app, std::span<const std::string> words);

// An option whose value is a whole number in [min, max] (by default any non-negative one), kept in
// `target` when given; anything else is a UsageError naming the option and what it expects.
CLI::Option* add_number_option(CLI::App& app, const std::string& name, std::optional<std::int64_t>& target,
                               const std::string& description, std::int64_t min = 0, std::int64_t max = INT64_MAX);

// --json, setting `format`; `description` says what the JSON holds.
CLI::Option* add_json_flag(CLI::App& app, OutputFormat& format, const std::string& description);

// --segment PATH, kept in `target` when given (commands default it to $SNAPBUS_SEGMENT).
CLI::Option* add_segment_option(CLI::App& app, std::optional<std::filesystem::path>& target);

}  // namespace snapbus::cli
