// The layout of every `snapbus ... --help`: a usage line, the description, the options in two
// columns (grouped under headings where the command has groups), then the exit codes.
//
//   app.formatter(std::make_shared<snapbus::cli::HelpFormatter>(18));
//   app.footer("exit codes: 0 ok, 2 bad usage, ...");
//   std::cout << app.help();
//   // usage: snapbus status [--json] [--segment PATH]
//   //
//   // Shows the lifecycle state ...
//   //
//   //   --json          one JSON object: {segment, state, publisher, subscribers: [...]}
//
// The usage line is written from the options themselves (option_text gives a value's name, e.g.
// "N" or "PATH"), so it cannot drift from what the command accepts; a command with many options
// passes a short synopsis instead ("[options] [--] [runtime command...]").
#pragma once

#include <cstddef>
#include <string>

#include <CLI/CLI.hpp>

namespace snapbus::cli {

class HelpFormatter : public CLI::Formatter {
 public:
  // `column` is where option descriptions start; a longer option name puts its description on the
  // next line. An empty `synopsis` lists every option in the usage line.
  explicit HelpFormatter(std::size_t column, std::string synopsis = {});

  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override;

 private:
  std::string usage_line(const CLI::App& app, const std::string& name) const;
  std::string synopsis_;
};

}  // namespace snapbus::cli
