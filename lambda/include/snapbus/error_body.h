// Lambda's error bodies: {"errorMessage": "...", "errorType": "..."}, the JSON a runtime posts to
// init/error, restore/error and invocation/<id>/error, and what the platform answers with.
//
//   std::string body = snapbus::lambda::json_error("Runtime.ExitError", "Runtime exited");
//   auto type = snapbus::lambda::json_error_field(body, "errorType");     // "Runtime.ExitError"
//   std::string text = snapbus::lambda::error_message_of(body);           // "Runtime exited"
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace snapbus::lambda {

// An error body with these two fields.
std::string json_error(std::string_view type, std::string_view message);

// One string field ("errorType", "errorMessage") of an error body a runtime or extension sent;
// nullopt when the body is not a JSON object with that string field.
std::optional<std::string> json_error_field(std::string_view body, std::string_view field);

// The errorMessage of `body`, or the whole body when it has none: what a log line should show.
std::string error_message_of(std::string_view body);

}  // namespace snapbus::lambda
