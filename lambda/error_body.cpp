#include "snapbus/error_body.h"

#include <boost/json.hpp>

#include "snapbus/utf8_text.h"

namespace snapbus::lambda {

// The texts can come from outside (an app's answer, a hook's name in the segment): utf8_text keeps
// the body valid JSON whatever their bytes.
std::string json_error(std::string_view type, std::string_view message) {
  boost::json::object o;
  o["errorMessage"] = utf8_text(message);
  o["errorType"] = utf8_text(type);
  return boost::json::serialize(o);
}

std::optional<std::string> json_error_field(std::string_view body, std::string_view field) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto* found = value.as_object().if_contains(field);
  if (found == nullptr || !found->is_string()) return std::nullopt;
  return std::string(found->as_string());
}

std::string error_message_of(std::string_view body) {
  return json_error_field(body, "errorMessage").value_or(std::string(body));
}

std::optional<std::string> error_without_cause(std::string_view body) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& posted = value.as_object();
  // A field that is absent or null reads as empty, as Go's decoder in the RIE reads it.
  const auto text = [&posted](std::string_view field) -> std::optional<boost::json::string> {
    const auto* found = posted.if_contains(field);
    if (found == nullptr || found->is_null()) return boost::json::string();
    if (!found->is_string()) return std::nullopt;
    return found->as_string();
  };
  const auto message = text("errorMessage");
  const auto type = text("errorType");
  if (!message || !type) return std::nullopt;
  boost::json::object shown{{"errorMessage", *message}, {"errorType", *type}};
  if (const auto* trace = posted.if_contains("stackTrace"); trace != nullptr && !trace->is_null()) {
    if (!trace->is_array()) return std::nullopt;
    for (const auto& frame : trace->as_array()) {
      if (!frame.is_string()) return std::nullopt;
    }
    if (!trace->as_array().empty()) shown["stackTrace"] = *trace;
  }
  return boost::json::serialize(shown);
}

std::string function_error_json(const FunctionError& error) {
  boost::json::array trace;
  for (const auto& frame : error.stack_trace) trace.emplace_back(utf8_text(frame));
  return boost::json::serialize(boost::json::object{{"errorMessage", utf8_text(error.message)},
                                                    {"errorType", utf8_text(error.type)},
                                                    {"stackTrace", std::move(trace)}});
}

}  // namespace snapbus::lambda
