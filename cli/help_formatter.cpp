#include "help_formatter.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace snapbus::cli {
namespace {

// Usage lines wrap before this column, continuing under the first option.
constexpr std::size_t kUsageWidth = 100;

// "[--timeout-ms N]", "[--json]", "<phase>"; the help flag is left out (every command has it).
std::string synopsis_word(const CLI::Option& option) {
  if (option.get_positional()) {
    const std::string& text = option.get_option_text();
    return "<" + (text.empty() ? option.get_name() : text) + ">";
  }
  std::string word = "[" + option.get_name(false, true);
  if (option.get_type_size() != 0 && !option.get_option_text().empty()) word += " " + option.get_option_text();
  return word + "]";
}

}  // namespace

HelpFormatter::HelpFormatter(std::size_t column, std::string synopsis) : synopsis_(std::move(synopsis)) {
  column_width(column);
}

std::string HelpFormatter::usage_line(const CLI::App& app, const std::string& name) const {
  const std::string head = "usage: " + name;
  if (!synopsis_.empty()) return head + " " + synopsis_ + "\n";
  std::vector<std::string> words;
  for (const CLI::Option* option : app.get_options({})) {
    if (option == app.get_help_ptr()) continue;
    if (option->get_positional()) words.push_back(synopsis_word(*option));
  }
  for (const CLI::Option* option : app.get_options({})) {
    if (option == app.get_help_ptr() || option->get_positional()) continue;
    words.push_back(synopsis_word(*option));
  }
  std::string text = head;
  std::size_t line_length = head.size();
  for (const std::string& word : words) {
    if (line_length + 1 + word.size() > kUsageWidth) {
      text += "\n" + std::string(head.size(), ' ');
      line_length = head.size();
    }
    text += " " + word;
    line_length += 1 + word.size();
  }
  return text + "\n";
}

std::string HelpFormatter::make_help(const CLI::App* app, std::string name, CLI::AppFormatMode /*mode*/) const {
  std::ostringstream out;
  out << usage_line(*app, name);
  if (!app->get_description().empty()) out << '\n' << app->get_description() << '\n';

  // Positionals with a description of their own, then each group of options; the default group
  // ("Options") needs no heading.
  for (const CLI::Option* option : app->get_options({})) {
    if (option->get_positional() && !option->get_description().empty()) out << make_option(option, true);
  }
  for (const std::string& group : app->get_groups()) {
    std::vector<const CLI::Option*> options = app->get_options(
        [&group](const CLI::Option* option) { return option->get_group() == group && option->nonpositional(); });
    // The help flag exists before any other option; it reads best last.
    std::stable_partition(options.begin(), options.end(),
                          [app](const CLI::Option* option) { return option != app->get_help_ptr(); });
    if (options.empty()) continue;
    out << '\n';
    if (group != "Options") out << group << ":\n";
    for (const CLI::Option* option : options) out << make_option(option, false);
  }
  if (!app->get_footer().empty()) out << '\n' << app->get_footer() << '\n';
  return out.str();
}

}  // namespace snapbus::cli
