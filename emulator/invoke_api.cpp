#include "invoke_api.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "snapbus/text.h"
#include "snapbus/utf8_text.h"

namespace snapbus::emulator {
namespace {

namespace http = boost::beast::http;

// The value of `key` in a query string, percent-decoded; empty when absent.
std::string query_value(std::string_view query, std::string_view key) {
  std::string value;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      value = eq == std::string_view::npos ? "" : percent_decoded(pair.substr(eq + 1), false);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return value;
}

// The {FunctionName} of `path` when it is prefix + one segment + suffix.
std::optional<std::string_view> path_parameter(std::string_view path, std::string_view prefix,
                                               std::string_view suffix) {
  if (path.size() <= prefix.size() + suffix.size() || !path.starts_with(prefix) || !path.ends_with(suffix)) {
    return std::nullopt;
  }
  path.remove_prefix(prefix.size());
  path.remove_suffix(suffix.size());
  if (path.find('/') != std::string_view::npos) return std::nullopt;
  return path;
}

std::vector<std::string_view> split_colons(std::string_view text) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t colon = text.find(':');
    parts.push_back(text.substr(0, colon));
    if (colon == std::string_view::npos) return parts;
    text.remove_prefix(colon + 1);
  }
}

bool all_of(std::string_view text, bool (*allowed)(char)) {
  return !text.empty() && std::all_of(text.begin(), text.end(), allowed);
}
bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }
bool qualifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

// FunctionName split into its parts; region and account empty unless it names them.
struct FunctionRef {
  std::string_view region;
  std::string_view account;
  std::string_view name;
  std::string_view qualifier;
};

net::HttpError malformed_name(std::string_view function_name) {
  return {http::status::bad_request, "ValidationException",
          fmt::format("1 validation error detected: Value '{}' at 'functionName' failed to satisfy constraint: "
                      "Member must be a function name, name:qualifier, account:function:name[:qualifier] or "
                      "arn:aws:lambda:region:account:function:name[:qualifier]",
                      function_name)};
}

// Lambda's pattern: (arn:aws*:lambda:<region>:)?(<account>:)?(function:)?<name>(:<qualifier>)?, of
// which the ARN form takes all of its parts.
FunctionRef split_function_name(std::string_view function_name) {
  const std::vector<std::string_view> parts = split_colons(function_name);
  FunctionRef ref;
  std::size_t name_at = 0;
  if (parts[0] == "arn") {
    if (parts.size() < 7 || parts.size() > 8 || parts[2] != "lambda" || parts[5] != "function" ||
        parts[1].substr(0, 3) != "aws" || parts[3].empty() || !all_of(parts[4], digit)) {
      throw malformed_name(function_name);
    }
    ref.region = parts[3];
    ref.account = parts[4];
    name_at = 6;
  } else {
    if (parts.size() >= 3 && all_of(parts[0], digit)) {
      if (parts[1] != "function") throw malformed_name(function_name);
      ref.account = parts[0];
      name_at = 2;
    } else if (parts.size() >= 2 && parts[0] == "function" && (parts.size() > 2 || all_of(parts[1], name_char))) {
      // As Lambda's pattern matches it: "function:prod" names the function prod, but
      // "function:$LATEST" only the function called function, at $LATEST.
      name_at = 1;
    }
    if (parts.size() > name_at + 2) throw malformed_name(function_name);
  }
  ref.name = parts[name_at];
  const bool qualified = name_at + 1 < parts.size();
  if (qualified) ref.qualifier = parts[name_at + 1];
  if (!all_of(ref.name, name_char) || ref.name.size() > 64) throw malformed_name(function_name);
  if (qualified && ref.qualifier != "$LATEST" && !all_of(ref.qualifier, qualifier_char)) {
    throw malformed_name(function_name);
  }
  return ref;
}

}  // namespace

std::optional<InvokeCall> read_invoke_call(std::string_view target, std::string_view invocation_type,
                                           std::string_view log_type) {
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  std::optional<std::string_view> function_name = path_parameter(path, kInvokePathPrefix, kInvokePathSuffix);
  const bool response_stream = !function_name;
  if (response_stream) function_name = path_parameter(path, kStreamingInvokePathPrefix, kStreamingInvokePathSuffix);
  if (!function_name) return std::nullopt;
  InvokeCall call{.function_name = percent_decoded(*function_name, false), .response_stream = response_stream};
  if (question != std::string_view::npos) call.qualifier = query_value(target.substr(question + 1), "Qualifier");
  if (invocation_type.empty() || invocation_type == "RequestResponse") {
    call.type = InvocationType::request_response;
  } else if (invocation_type == "Event" && !response_stream) {
    call.type = InvocationType::event;
  } else if (invocation_type == "DryRun") {
    call.type = InvocationType::dry_run;
  } else {
    throw net::HttpError(
        http::status::bad_request, "ValidationException",
        fmt::format("1 validation error detected: Value '{}' at 'invocationType' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [{}]",
                    invocation_type, response_stream ? "RequestResponse, DryRun" : "Event, RequestResponse, DryRun"));
  }
  if (!log_type.empty() && log_type != "None" && log_type != "Tail") {
    throw net::HttpError(http::status::bad_request, "ValidationException",
                         fmt::format("1 validation error detected: Value '{}' at 'logType' failed to satisfy "
                                     "constraint: Member must satisfy enum value set: [None, Tail]",
                                     log_type));
  }
  call.log_tail = log_type == "Tail" && call.type == InvocationType::request_response;
  return call;
}

bool is_signed_by_sdk(std::string_view authorization) { return authorization.starts_with("AWS4-HMAC-SHA256 "); }

bool is_lambda_api_path(std::string_view target) {
  // "/2015-03-31/": a date, as every version of the Lambda API names itself.
  constexpr std::string_view kShape = "/dddd-dd-dd/";
  if (target.size() < kShape.size()) return false;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    if (kShape[i] == 'd' ? !digit(target[i]) : target[i] != kShape[i]) return false;
  }
  return true;
}

InvokedFunction resolve_invoked_function(const InvokeCall& call, const Config& config) {
  const FunctionRef ref = split_function_name(call.function_name);
  if (!call.qualifier.empty() && call.qualifier != "$LATEST" && !all_of(call.qualifier, qualifier_char)) {
    throw net::HttpError(http::status::bad_request, "ValidationException",
                         fmt::format("1 validation error detected: Value '{}' at 'qualifier' failed to satisfy "
                                     "constraint: Member must be $LATEST, a version number or an alias name",
                                     call.qualifier));
  }
  if (!ref.qualifier.empty() && !call.qualifier.empty() && ref.qualifier != call.qualifier) {
    throw net::HttpError(http::status::bad_request, "InvalidParameterValueException",
                         "The derived qualifier from the function name does not match the specified qualifier.");
  }
  const std::string_view qualifier = ref.qualifier.empty() ? std::string_view(call.qualifier) : ref.qualifier;
  const std::string_view region = ref.region.empty() ? std::string_view(config.region) : ref.region;
  const bool same_function = ref.name == kRieFunctionName || ref.name == config.function_name;
  const bool same_version = qualifier.empty() || qualifier == config.function_version || !all_of(qualifier, digit);
  if (!same_function || region != config.region || !same_version) {
    const std::string_view account = ref.account.empty() ? kEmulatedAccountId : ref.account;
    std::string arn = fmt::format("arn:aws:lambda:{}:{}:function:{}", region, account, ref.name);
    if (!qualifier.empty()) arn += fmt::format(":{}", qualifier);
    throw net::HttpError(http::status::not_found, "ResourceNotFoundException",
                         fmt::format("Function not found: {}", arn));
  }
  return {.executed_version = config.function_version, .qualifier = std::string(qualifier)};
}

std::string invoke_error_body(http::status status, std::string_view type, std::string_view message) {
  // Lambda's API model (botocore's service-2.json) names these errors' member "Message".
  const bool capitalised =
      type == "ResourceNotFoundException" || type == "ServiceException" || type.starts_with("SnapStart");
  boost::json::object body{{"Type", static_cast<unsigned>(status) >= 500 ? "Service" : "User"}};
  // The message may quote a function name decoded from the path: any bytes, which JSON must not carry raw.
  body[capitalised ? "Message" : "message"] = utf8_replacing_invalid(message);
  // The emulator throttles only the callers waiting past its queue, over the function's concurrency.
  if (type == "TooManyRequestsException") body["Reason"] = "ConcurrentInvocationLimitExceeded";
  return boost::json::serialize(body);
}

}  // namespace snapbus::emulator
