#include "command_line.h"

#include <vector>

#include "help_formatter.h"
#include "snapbus/text.h"

namespace snapbus::cli {

std::unique_ptr<CLI::App> command_app(const std::string& name, const std::string& description,
                                      const std::string& footer, std::size_t column, std::string synopsis) {
  auto app = std::make_unique<CLI::App>(description, name);
  // As before CLI11: a repeated option's last value wins.
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->set_help_flag("-h,--help", "this help");
  app->formatter(std::make_shared<HelpFormatter>(column, std::move(synopsis)));
  app->footer(footer);
  return app;
}

void parse_command_line(CLI::App& app, std::span<const std::string> words) {
  // CLI11 consumes its argument list from the back.
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    app.parse(std::move(reversed));
  } catch (const CLI::CallForHelp&) {
    throw HelpRequested(app.help());
  } catch (const CLI::ParseError& error) {
    throw UsageError(error.what());
  }
}

CLI::Option* add_number_option(CLI::App& app, const std::string& name, std::optional<std::int64_t>& target,
                               const std::string& description, std::int64_t min, std::int64_t max) {
  return app
      .add_option_function<std::string>(
          name,
          [&target, name, min, max](const std::string& text) {
            target = parse_number<std::int64_t>(text, min, max);
            if (target) return;
            const std::string expected =
                max == INT64_MAX ? "a whole number of at least " + std::to_string(min) + " that fits in 64 bits"
                                 : "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
            throw UsageError(name + " needs " + expected + ", not '" + text + "'");
          },
          description)
      ->option_text("N");
}

CLI::Option* add_json_flag(CLI::App& app, OutputFormat& format, const std::string& description) {
  return app.add_flag_callback(
      "--json", [&format] { format = OutputFormat::json; }, description);
}

CLI::Option* add_segment_option(CLI::App& app, std::optional<std::filesystem::path>& target) {
  return app
      .add_option_function<std::string>(
          "--segment",
          [&target](const std::string& path) {
            if (path.empty()) throw UsageError("--segment needs a path, got an empty one");
            // Made absolute here, so that what the command prints is the path every other process
            // must be given (SNAPBUS_SEGMENT, which they read, must be absolute).
            target = std::filesystem::absolute(path).lexically_normal();
          },
          "the segment file (default: $SNAPBUS_SEGMENT, else /tmp/snapbus.seg; a relative\n"
          "PATH is taken from the working directory)")
      ->option_text("PATH");
}

}  // namespace snapbus::cli
