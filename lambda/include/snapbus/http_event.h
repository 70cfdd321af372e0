// Lambda events that stand for HTTP requests (API Gateway REST and HTTP APIs, ALB, Function URLs),
// turned into the HTTP request an app expects, and the app's answer turned into the result each
// source expects. Any other event (SQS, SNS, S3, ...) becomes a POST of the raw payload to the
// pass-through path, as Lambda Web Adapter does.
//
//   snapbus::lambda::HttpEventRequest request =
//       snapbus::lambda::request_from_event(payload, {.remove_base_path = "/orders"});
//   // ... send request.method, request.target, request.headers, request.body to the app ...
//   std::string result = snapbus::lambda::result_from_response(request.shape, app_response);
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace snapbus::lambda {

enum class EventSource {
  api_gateway_rest,  // API Gateway REST API, and HTTP API payload format 1.0
  api_gateway_http,  // API Gateway HTTP API, payload format 2.0
  alb,               // Application Load Balancer target group
  function_url,      // Lambda Function URL (payload format 2.0 on a lambda-url domain)
  other,             // not an HTTP event: posted whole to the pass-through path
};
std::string_view to_string(EventSource source);

// What the answer must look like: the source, and for ALB and REST whether the request carried
// multiValueHeaders (an ALB target group with multi-value headers on accepts only those back).
struct ResultShape {
  EventSource source = EventSource::other;
  bool multi_value_headers = false;

  bool operator==(const ResultShape&) const = default;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (names compare case-insensitively), or nullptr.
const std::string* find_header(const HeaderList& headers, std::string_view name);
// Every value of the header `name`, in order, as one comma-separated list (how RFC 9110 combines a
// field sent on several lines, as a REST event's multiValueHeaders keeps them); empty when absent.
std::string joined_header(const HeaderList& headers, std::string_view name);

struct HttpEventRequest {
  ResultShape shape;
  std::string method;
  // Origin form for the request line: the percent-encoded path, then '?' and the query if any.
  std::string target;
  // In the event's order; a header with several values appears once per value (cookies of a
  // 2.0 event become one `cookie` header).
  HeaderList headers;
  std::string body;  // decoded when the event said isBase64Encoded
  // The event's requestContext as JSON ("" when it has none), on one line and with DEL escaped
  // (escape_deletes): sent as x-amzn-request-context.
  std::string request_context;
  // requestContext.domainName, for a Host header when the event carries none.
  std::string domain_name;

  bool operator==(const HttpEventRequest&) const = default;
};

struct EventDecodeOptions {
  // Removed from the front of the path when present (AWS_LWA_REMOVE_BASE_PATH).
  std::string_view remove_base_path;
  // Where other events are POSTed (AWS_LWA_PASS_THROUGH_PATH).
  std::string_view pass_through_path = "/events";
};

// A payload that is not a JSON object, or an HTTP event with a field of the wrong type or a body
// that is not valid base64. The message names the field.
class EventError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

HttpEventRequest request_from_event(std::string_view payload, const EventDecodeOptions& options = {});

// request_from_event's second half, on `payload` already parsed (lambda/event_json.h, private to
// lambda/): its tests decode json::parse's whole value this way too, so that a member decoding reads
// but the parser does not build fails a test rather than go missing.
struct ParsedEvent;
HttpEventRequest request_from_parsed_event(std::string_view payload, ParsedEvent& parsed,
                                           const EventDecodeOptions& options = {});

// An event's path as the app gets it, before percent-encoding: a backslash read as '/', and the segments
// ".", ".." (and their %2e spellings) resolved, as LWA's URL parser does ("/a/./b/../c" -> "/a/c").
std::string path_with_dot_segments_resolved(std::string_view path);

struct HttpAppResponse {
  unsigned status = 200;
  HeaderList headers;
  std::string body;
};

// Whether a body with these headers goes back base64-encoded: anything compressed
// (content-encoding), and any content type that is not text, JSON, JavaScript, XML or YAML (unless
// the app sent `x-lambda-http-content-encoding: text`, as lambda_http lets it). A text body that is
// not valid UTF-8 (an ISO-8859-1 page, say) is base64-encoded too: a JSON string cannot carry it,
// and LWA's re-encoding into UTF-8 would leave the client bytes that contradict the declared charset.
bool is_binary_body(const HeaderList& headers, std::string_view body);

// The JSON result for the source: statusCode, headers in the source's form (2.0: one value per
// name, Set-Cookie as `cookies`; REST: multiValueHeaders; ALB: as the request had them, plus
// statusDescription), body, isBase64Encoded. Header values that are not UTF-8 are read as
// ISO-8859-1 (utf8_text.h). For a REST API, which decodes base64 only for its binaryMediaTypes, a
// text body that is not UTF-8 goes as text instead, read in its charset, as LWA sends it. For
// `other`, the body itself when it is JSON text, else `null`, as LWA answers: for an SQS batch with
// partial-failure reports, null means every message succeeded, while a JSON string such as "ok" is
// not a report at all.
std::string result_from_response(const ResultShape& shape, const HttpAppResponse& response);

}  // namespace snapbus::lambda
