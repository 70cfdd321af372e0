#include "snapbus/http_event.h"

#include <algorithm>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "snapbus/base64.h"
#include "snapbus/file_contents.h"

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

// Real payloads from ../shared/vectors/lambda-events (see its NOTICE.md), read where they are.
std::filesystem::path vectors_dir() { return SNAPBUS_EVENT_VECTORS; }

std::string vector(const std::string& name) { return read_file_contents(vectors_dir() / name); }

// A Function URL GET with this raw path and query, as Lambda sends it.
std::string function_url_get(std::string_view raw_path, std::string_view raw_query) {
  return json::serialize(json::object{
      {"version", "2.0"},
      {"rawPath", raw_path},
      {"rawQueryString", raw_query},
      {"headers", json::object{}},
      {"requestContext", {{"http", {{"method", "GET"}}}, {"domainName", "x.lambda-url.us-east-1.on.aws"}}}});
}

std::vector<std::string> header_values(const HttpEventRequest& request, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : request.headers) {
    if (key == name) values.push_back(value);
  }
  return values;
}

class EventVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::is_directory(vectors_dir())) {
      GTEST_SKIP() << "no event vectors at " << vectors_dir() << " (they live in ../shared beside the checkout)";
    }
  }
};

TEST_F(EventVectors, EveryVectorDecodesAndIsClassifiedByItsSource) {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(vectors_dir())) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(name);
    const HttpEventRequest request = request_from_event(vector(name));
    ++seen;
    EventSource expected = EventSource::other;
    if (name.find("alb") != std::string::npos) {
      expected = EventSource::alb;
    } else if (name.find("function_url") != std::string::npos) {
      expected = EventSource::function_url;
    } else if (name.find("v2") != std::string::npos || name.find("path_with_space") != std::string::npos ||
               name.find("sam-http") != std::string::npos || name.find("sam_local") != std::string::npos) {
      expected = EventSource::api_gateway_http;
    } else if (name.find("apigw") != std::string::npos) {
      expected = EventSource::api_gateway_rest;
    }
    EXPECT_EQ(to_string(request.shape.source), to_string(expected));
    EXPECT_FALSE(request.method.empty());
    ASSERT_FALSE(request.target.empty());
    EXPECT_EQ(request.target.front(), '/');
    EXPECT_EQ(request.target.find(' '), std::string::npos);
    if (expected == EventSource::other) {
      EXPECT_EQ(request.method, "POST");
      EXPECT_EQ(request.target, "/events");
      EXPECT_EQ(request.body, vector(name));  // byte for byte
    }
  }
  EXPECT_GE(seen, 30);
}

TEST_F(EventVectors, RestEventPrefersMultiValueQueryAndHeaders) {
  const HttpEventRequest request = request_from_event(vector("http-apigw_multi_value_proxy_request.json"));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/hello/world?name=me&multiValueName=you&multiValueName=me");
  EXPECT_TRUE(request.shape.multi_value_headers);
  EXPECT_EQ(request.body, "{\r\n\t\"a\": 1\r\n}");
  EXPECT_NE(request.request_context.find("\"resourcePath\""), std::string::npos);
}

// Every value of multiValueHeaders, and what only headers names (a hand-written event's), as LWA
// merges the two maps.
TEST(HttpEvent, RestHeadersNamedOnlyInTheSingleValueMapAreKept) {
  const HttpEventRequest request = request_from_event(R"({"httpMethod":"GET","path":"/","requestContext":{},)"
                                                      R"("headers":{"Accept":"b","X-Only-Here":"yes","X-Number":7},)"
                                                      R"("multiValueHeaders":{"accept":["a","b"]}})");
  const HeaderList expected{{"accept", "a"}, {"accept", "b"}, {"X-Only-Here", "yes"}};
  EXPECT_EQ(request.headers, expected);
}

// x-amzn-request-context carries the requestContext as the service wrote it, on one line: a Lambda
// authorizer's numbers keep their form, and none becomes Infinity (which is not JSON).
TEST(HttpEvent, TheRequestContextIsPassedOnAsWrittenOnOneLine) {
  const HttpEventRequest request = request_from_event(
      "{\"version\": \"2.0\", \"rawPath\": \"/\",\n \"requestContext\": {\n  \"http\": {\"method\": \"GET\"},\n"
      "  \"authorizer\": {\"lambda\": {\"score\": 0.5, \"id\": 123456789012345678901234567890, \"far\": 1e999,"
      " \"note\": \"a  b\\n\"}}}}");
  EXPECT_EQ(request.request_context,
            R"({"http":{"method":"GET"},"authorizer":{"lambda":{"score":0.5,"id":123456789012345678901234567890,)"
            R"("far":1e999,"note":"a  b\n"}}})");
  EXPECT_EQ(request.request_context.find_first_of("\r\n"), std::string::npos);
}

// A requestContext whose key is written with an escape (by hand: no service does) cannot be placed by
// the parser; the scan of the text finds it by its decoded name, and the header has all of it, not the
// parsed event's few members.
TEST(HttpEvent, ARequestContextUnderAnEscapedKeyIsPassedOnWhole) {
  const HttpEventRequest request = request_from_event(
      R"({"rawPath": "/", "request\u0043ontext": {"http": {"method": "GET", "path": "/"}, "stage": "$default",)"
      R"( "elb": {"targetGroupArn": "t"}, "timeEpoch": 1583348638390}, "httpMethod": "GET", "path": "/"})");
  EXPECT_EQ(request.shape.source, EventSource::alb);
  EXPECT_EQ(request.request_context, R"({"http":{"method":"GET","path":"/"},"stage":"$default",)"
                                     R"("elb":{"targetGroupArn":"t"},"timeEpoch":1583348638390})");
}

TEST_F(EventVectors, HttpApiKeepsTheRawQueryAndEncodesThePath) {
  const HttpEventRequest request = request_from_event(vector("http-apigw_request_path_with_space.json"));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/my/path-with%20space?parameter1=value1&parameter1=value2&parameter2=value");
  EXPECT_EQ(header_values(request, "cookie"), std::vector<std::string>{"cookie1=value1; cookie2=value2"});
  EXPECT_EQ(request.domain_name, "id.execute-api.us-east-1.amazonaws.com");
}

TEST_F(EventVectors, StageInTheRawPathReachesTheApp) {
  // LWA forwards the raw path: an HTTP API with a named stage sends it, and the app sees it.
  const HttpEventRequest request = request_from_event(vector("http-apigw_v2_proxy_request_with_stage_in_path.json"));
  EXPECT_EQ(request.target.substr(0, request.target.find('?')), "/Prod/my/path");
  const HttpEventRequest stripped =
      request_from_event(vector("http-apigw_v2_proxy_request_with_stage_in_path.json"), {.remove_base_path = "/Prod"});
  EXPECT_EQ(stripped.target.substr(0, stripped.target.find('?')), "/my/path");
}

TEST_F(EventVectors, FunctionUrlCookiesReplaceTheCookieHeader) {
  const HttpEventRequest request = request_from_event(vector("http-lambda_function_url_request.json"));
  EXPECT_EQ(request.shape.source, EventSource::function_url);
  EXPECT_EQ(header_values(request, "cookie"), std::vector<std::string>{"test=hi"});
}

TEST_F(EventVectors, AlbQueryIsPassedOnAsTheClientEncodedIt) {
  const HttpEventRequest single = request_from_event(vector("http-alb_request_encoded_query_parameters.json"));
  EXPECT_EQ(single.target, "/?myKey=%3FshowAll%3Dtrue");
  EXPECT_FALSE(single.shape.multi_value_headers);
  const HttpEventRequest multi =
      request_from_event(vector("http-alb_multi_value_request_encoded_query_parameters.json"));
  EXPECT_EQ(multi.target, "/?myKey=%3FshowAll%3Dtrue&myKey=%3FshowAll%3Dfalse");
  EXPECT_TRUE(multi.shape.multi_value_headers);
}

TEST_F(EventVectors, AlbMultiValueHeadersKeepEveryValue) {
  const HttpEventRequest request = request_from_event(vector("http-alb_multi_value_request.json"));
  EXPECT_EQ(header_values(request, "cookie"), (std::vector<std::string>{"name1=value1", "name2=value2"}));
  EXPECT_EQ(request.body, "request_body");
}

TEST_F(EventVectors, NonHttpEventsGoToThePassThroughPath) {
  for (const char* name : {"example-sqs-event.json", "example-sns-event.json", "example-s3-event.json"}) {
    const HttpEventRequest request = request_from_event(vector(name), {.pass_through_path = "/queue"});
    EXPECT_EQ(request.shape.source, EventSource::other) << name;
    EXPECT_EQ(request.target, "/queue");
    EXPECT_EQ(request.body, vector(name));
  }
}

TEST(HttpEvent, Base64BodiesAreDecodedAndCorruptOnesRefused) {
  const std::string event =
      R"({"version":"2.0","rawPath":"/up","rawQueryString":"","headers":{},"isBase64Encoded":true,)"
      R"("body":"AAEC/w==","requestContext":{"http":{"method":"PUT"},"domainName":"x.lambda-url.us-east-1.on.aws"}})";
  EXPECT_EQ(request_from_event(event).body, std::string("\x00\x01\x02\xff", 4));
  std::string corrupt = event;
  corrupt.replace(corrupt.find("AAEC/w=="), 8, "AA*C/w==");
  EXPECT_THROW(request_from_event(corrupt), EventError);
}

// As behind LWA, whose URL parser (the url crate, WHATWG's rules) resolves them: "/public/../admin" is
// "/admin" to the app, so a rule the app keys on a path prefix judges the path it routes.
TEST(HttpEvent, DotSegmentsAndBackslashesInThePathAreResolved) {
  EXPECT_EQ(path_with_dot_segments_resolved("/public/../admin"), "/admin");
  EXPECT_EQ(path_with_dot_segments_resolved("/a/./b/../c"), "/a/c");
  EXPECT_EQ(path_with_dot_segments_resolved("/a/%2E%2e/b/.%2E/c/%2e./d"), "/d");
  EXPECT_EQ(path_with_dot_segments_resolved("/a/b/.."), "/a/");
  EXPECT_EQ(path_with_dot_segments_resolved("/a/b/."), "/a/b/");
  EXPECT_EQ(path_with_dot_segments_resolved("/../../x"), "/x");
  EXPECT_EQ(path_with_dot_segments_resolved("/.."), "/");
  EXPECT_EQ(path_with_dot_segments_resolved("/a\\b\\..\\c"), "/a/c");
  // Anything else stays as it was: empty segments, dots inside names, escapes of other characters.
  EXPECT_EQ(path_with_dot_segments_resolved("/"), "/");
  EXPECT_EQ(path_with_dot_segments_resolved(""), "/");
  EXPECT_EQ(path_with_dot_segments_resolved("//a//b/"), "//a//b/");
  EXPECT_EQ(path_with_dot_segments_resolved("/v1.2/...data/file..txt"), "/v1.2/...data/file..txt");
  EXPECT_EQ(path_with_dot_segments_resolved("/a/%2F../b"), "/a/%2F../b");  // an escaped slash is no separator

  EXPECT_EQ(request_from_event(function_url_get("/public/../admin/%2e", "q=1")).target, "/admin/?q=1");
  // The base path goes first; what is left becomes absolute, as LWA's set_path makes it.
  const std::string based = function_url_get("/api\\admin", "");
  EXPECT_EQ(request_from_event(based, {.remove_base_path = "/api"}).target, "/admin");
  EXPECT_EQ(request_from_event(based, {.remove_base_path = "/api\\admin"}).target, "/");
}

// As LWA's URL parser leaves them: a query as the client sent it but for space, double quote, '#', '<',
// '>' and single quote, and a path but for the same less the single quote, plus '?', '`', '{', '}' (url
// 2.5.8, which LWA pins, keeps '^' in a path; later versions escape it).
TEST(HttpEvent, PathAndQueryKeepWhatTheClientSentAsLwaDoes) {
  const std::string event = function_url_get("/a[1]|b/{c}^`", "ids[]=1&f={a}|^`\\&q='x y'&h=#");
  EXPECT_EQ(request_from_event(event).target, "/a[1]|b/%7Bc%7D^%60?ids[]=1&f={a}|^`\\&q=%27x%20y%27&h=%23");
}

TEST(HeaderList, ARepeatedFieldJoinsAsOneList) {
  const HeaderList headers{{"Accept-Encoding", "identity;q=0.5"}, {"host", "x"}, {"accept-encoding", "gzip"}};
  EXPECT_EQ(joined_header(headers, "accept-encoding"), "identity;q=0.5, gzip");
  EXPECT_EQ(joined_header(headers, "host"), "x");
  EXPECT_EQ(joined_header(headers, "cookie"), "");
}

TEST(HttpEvent, MalformedEventsGetAnErrorNamingTheField) {
  EXPECT_THROW(request_from_event("{not json"), EventError);
  try {
    request_from_event(R"({"httpMethod":"GET","path":7,"requestContext":{}})");
    FAIL() << "expected an error";
  } catch (const EventError& error) {
    EXPECT_NE(std::string(error.what()).find("\"path\""), std::string::npos) << error.what();
  }
  EXPECT_THROW(request_from_event(R"({"httpMethod":"GET","path":"/","headers":{"a":1}})"), EventError);
  EXPECT_THROW(request_from_event(R"({"httpMethod":"","path":"/"})"), EventError);
  // A 2.0 event whose requestContext.http is null or empty has no method (a null crashed the decoder).
  for (const std::string_view event :
       {R"({"rawPath":"/","requestContext":{"http":null}})", R"({"rawPath":"/","requestContext":{"http":{}}})"}) {
    try {
      request_from_event(event);
      ADD_FAILURE() << "expected an error for " << event;
    } catch (const EventError& error) {
      EXPECT_NE(std::string(error.what()).find("no HTTP method"), std::string::npos) << error.what();
    }
  }
  // JSON that is not an object is not an HTTP event: it is passed through whole.
  EXPECT_EQ(request_from_event("[1,2]").body, "[1,2]");
}

json::object parsed(const std::string& text) { return json::parse(text).as_object(); }

TEST(HttpResult, HttpApiAnswersWithCookiesApartAndJoinedHeaders) {
  const HttpAppResponse response{.status = 201,
                                 .headers = {{"content-type", "text/plain"},
                                             {"set-cookie", "a=1; Path=/"},
                                             {"x-many", "1"},
                                             {"Set-Cookie", "b=2"},
                                             {"x-many", "2"}},
                                 .body = "created"};
  for (const EventSource source : {EventSource::api_gateway_http, EventSource::function_url}) {
    const json::object result = parsed(result_from_response({.source = source}, response));
    EXPECT_EQ(result.at("statusCode").as_int64(), 201);
    EXPECT_EQ(result.at("headers").as_object().at("x-many").as_string(), "1, 2");
    EXPECT_FALSE(result.at("headers").as_object().contains("set-cookie"));
    EXPECT_EQ(result.at("cookies").as_array().size(), 2U);
    EXPECT_EQ(result.at("body").as_string(), "created");
    EXPECT_FALSE(result.at("isBase64Encoded").as_bool());
  }
}

TEST(HttpResult, RestAndMultiValueAlbAnswerWithLists) {
  const HttpAppResponse response{.status = 404, .headers = {{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}, .body = ""};
  const json::object rest = parsed(result_from_response({.source = EventSource::api_gateway_rest}, response));
  EXPECT_EQ(rest.at("multiValueHeaders").as_object().at("Set-Cookie").as_array().size(), 2U);
  EXPECT_FALSE(rest.contains("statusDescription"));
  const json::object alb =
      parsed(result_from_response({.source = EventSource::alb, .multi_value_headers = true}, response));
  EXPECT_EQ(alb.at("multiValueHeaders").as_object().at("Set-Cookie").as_array().size(), 2U);
  EXPECT_EQ(alb.at("statusDescription").as_string(), "404 Not Found");
  // A single-value target group takes one Set-Cookie: the first, as LWA keeps it.
  const json::object single = parsed(result_from_response({.source = EventSource::alb}, response));
  EXPECT_EQ(single.at("headers").as_object().at("Set-Cookie").as_string(), "a=1");
}

// The bytes of each shape, as Boost.JSON wrote them from a json::object before the result was written
// by hand: member order, escapes, empty objects and lists, a base64 body.
TEST(HttpResult, EachShapesTextIsUnchangedByteForByte) {
  const HttpAppResponse text{.status = 200,
                             .headers = {{"Content-Type", "text/plain; charset=utf-8"},
                                         {"set-cookie", "a=1; Path=/"},
                                         {"x-quote", "say \"hi\"\\"},
                                         {"Set-Cookie", "b=2"},
                                         {"x-quote", "two"}},
                             .body = "line 1\nline \"2\"\t\x01 caf\xc3\xa9"};
  const HttpAppResponse bare{.status = 204, .headers = {}, .body = ""};
  const HttpAppResponse binary{.status = 200, .headers = {{"content-type", "image/png"}}, .body = "\x89PNG"};
  EXPECT_EQ(result_from_response({.source = EventSource::function_url}, text),
            R"({"statusCode":200,"headers":{"Content-Type":"text/plain; charset=utf-8","x-quote":"say \"hi\"\\, two"},)"
            R"("cookies":["a=1; Path=/","b=2"],"body":"line 1\nline \"2\"\t\u0001 caf)"
            "\xc3\xa9"
            R"(","isBase64Encoded":false})");
  EXPECT_EQ(result_from_response({.source = EventSource::api_gateway_http}, bare),
            R"({"statusCode":204,"headers":{},"cookies":[],"body":"","isBase64Encoded":false})");
  EXPECT_EQ(
      result_from_response({.source = EventSource::api_gateway_rest}, text),
      R"({"statusCode":200,"multiValueHeaders":{"Content-Type":["text/plain; charset=utf-8"],)"
      R"("set-cookie":["a=1; Path=/","b=2"],"x-quote":["say \"hi\"\\","two"]},"body":"line 1\nline \"2\"\t\u0001 caf)"
      "\xc3\xa9"
      R"(","isBase64Encoded":false})");
  EXPECT_EQ(result_from_response({.source = EventSource::api_gateway_rest}, bare),
            R"({"statusCode":204,"multiValueHeaders":{},"body":"","isBase64Encoded":false})");
  EXPECT_EQ(result_from_response({.source = EventSource::alb, .multi_value_headers = true}, text),
            R"({"statusCode":200,"multiValueHeaders":{"Content-Type":["text/plain; charset=utf-8"],)"
            R"("set-cookie":["a=1; Path=/","b=2"],"x-quote":["say \"hi\"\\","two"]},"statusDescription":"200 OK",)"
            R"("body":"line 1\nline \"2\"\t\u0001 caf)"
            "\xc3\xa9"
            R"(","isBase64Encoded":false})");
  EXPECT_EQ(result_from_response({.source = EventSource::alb}, text),
            R"({"statusCode":200,"headers":{"Content-Type":"text/plain; charset=utf-8","set-cookie":"a=1; Path=/",)"
            R"("x-quote":"say \"hi\"\\, two"},"statusDescription":"200 OK","body":"line 1\nline \"2\"\t\u0001 caf)"
            "\xc3\xa9"
            R"(","isBase64Encoded":false})");
  EXPECT_EQ(
      result_from_response({.source = EventSource::alb}, bare),
      R"({"statusCode":204,"headers":{},"statusDescription":"204 No Content","body":"","isBase64Encoded":false})");
  EXPECT_EQ(result_from_response({.source = EventSource::function_url}, binary),
            R"({"statusCode":200,"headers":{"content-type":"image/png"},"cookies":[],"body":"iVBORw==",)"
            R"("isBase64Encoded":true})");
}

TEST(HttpResult, AlbStatusDescriptionsNameCodesAsLambdaWebAdapterDoes) {
  const auto description = [](unsigned status) {
    const json::object result =
        parsed(result_from_response({.source = EventSource::alb}, {.status = status, .headers = {}, .body = ""}));
    return std::string(result.at("statusDescription").as_string());
  };
  EXPECT_EQ(description(200), "200 OK");
  EXPECT_EQ(description(418), "418 I'm a teapot");
  EXPECT_EQ(description(425), "425 Too Early");
  EXPECT_EQ(description(599), "599 ");
}

TEST(HttpResult, TextThatIsNotUtf8StaysValidJsonAndReachesTheClientUnchanged) {
  // An ISO-8859-1 page: its bytes go back base64-encoded, so the client decodes "caf\xe9" itself
  // with the charset the header still names; the header value's own 0xE9 is read as ISO-8859-1.
  // (HTTP API, Function URLs and ALB decode base64 for any type; a REST API does not: below.)
  const std::string latin1_body = "caf\xe9";
  const HttpAppResponse response{.status = 200,
                                 .headers = {{"Content-Type", "text/html; charset=iso-8859-1"},
                                             {"X-Name", "Andr\xe9"},
                                             {"Set-Cookie", "n=\xe9"},
                                             {"x-name", "Zo\xeb"}},
                                 .body = latin1_body};
  for (const EventSource source : {EventSource::api_gateway_http, EventSource::function_url, EventSource::alb}) {
    for (const bool multi : {false, true}) {
      const std::string text = result_from_response({.source = source, .multi_value_headers = multi}, response);
      boost::system::error_code error;
      const json::value result = json::parse(text, error);  // Boost.JSON rejects invalid UTF-8
      ASSERT_FALSE(error) << to_string(source) << ": " << error.message();
      EXPECT_TRUE(result.at("isBase64Encoded").as_bool()) << to_string(source);
      EXPECT_EQ(decode_base64(result.at("body").as_string()), latin1_body) << to_string(source);
      EXPECT_NE(text.find("Andr\xc3\xa9"), std::string::npos) << text;
      // A name twice: joined into one value, or a list of two, each value read as ISO-8859-1.
      const bool lists = source == EventSource::alb && multi;
      EXPECT_NE(text.find(lists ? "\"Andr\xc3\xa9\",\"Zo\xc3\xab\"" : "\"Andr\xc3\xa9, Zo\xc3\xab\""),
                std::string::npos)
          << text;
    }
  }
  // Valid UTF-8 stays text whatever charset is named: its bytes reach the client as they are.
  EXPECT_FALSE(is_binary_body({{"content-type", "text/plain; charset=utf-16"}}, "0000"));
  EXPECT_TRUE(is_binary_body({{"content-type", "text/plain"}}, "caf\xe9"));
}

// A REST API decodes base64 only for its binaryMediaTypes: text that is not UTF-8 goes to it as text,
// read in its charset as LWA reads it, and its Content-Type then names the charset it is in.
TEST(HttpResult, ARestApiGetsTextThatIsNotUtf8AsUtf8Text) {
  const auto rest = [](std::string type, std::string body) {
    return json::parse(result_from_response(
                           {.source = EventSource::api_gateway_rest},
                           {.status = 200, .headers = {{"Content-Type", std::move(type)}}, .body = std::move(body)}))
        .as_object();
  };
  const json::object page = rest("text/html; charset=ISO-8859-1",
                                 "\x93"
                                 "caf\xe9\x94");
  EXPECT_FALSE(page.at("isBase64Encoded").as_bool());
  EXPECT_EQ(page.at("body").as_string(),
            "\u201c"
            "caf\u00e9\u201d");  // windows-1252, as browsers read it
  EXPECT_EQ(page.at("multiValueHeaders").at("Content-Type").as_array().at(0).as_string(), "text/html; charset=utf-8");
  const json::object quoted = rest("text/plain; charset=\"latin1\"; format=flowed", "\xe9t\xe9");
  EXPECT_EQ(quoted.at("body").as_string(), "\u00e9t\u00e9");
  EXPECT_EQ(quoted.at("multiValueHeaders").at("Content-Type").as_array().at(0).as_string(),
            "text/plain; charset=utf-8; format=flowed");
  // No charset, or one without a table here: each byte outside UTF-8 is U+FFFD, as lambda_http's lossy UTF-8.
  const json::object cut = rest("application/json", "{\"name\":\"M\xfcller\"}");
  EXPECT_FALSE(cut.at("isBase64Encoded").as_bool());
  EXPECT_EQ(cut.at("body").as_string(), "{\"name\":\"M\ufffdller\"}");
  EXPECT_EQ(cut.at("multiValueHeaders").at("Content-Type").as_array().at(0).as_string(), "application/json");
  // Binary stays binary.
  EXPECT_TRUE(rest("image/png", "\x89PNG").at("isBase64Encoded").as_bool());
}

TEST(HttpResult, AnAppMayAskForAnyTypeToGoBackAsText) {
  EXPECT_TRUE(is_binary_body({{"content-type", "application/x-custom"}}, "words"));
  EXPECT_FALSE(
      is_binary_body({{"content-type", "application/x-custom"}, {"x-lambda-http-content-encoding", "text"}}, "words"));
  // Still base64 when the bytes could not be a JSON string.
  EXPECT_TRUE(is_binary_body({{"content-type", "application/x-custom"}, {"x-lambda-http-content-encoding", "text"}},
                             std::string("\xff", 1)));
}

TEST(HttpResult, BinaryBodiesGoBackAsBase64) {
  const std::string png("\x89PNG\r\n\x1a\n\x00", 9);
  const json::object image = parsed(result_from_response(
      {.source = EventSource::function_url}, {.status = 200, .headers = {{"Content-Type", "image/png"}}, .body = png}));
  EXPECT_TRUE(image.at("isBase64Encoded").as_bool());
  EXPECT_EQ(image.at("body").as_string(), "iVBORw0KGgoA");
  EXPECT_TRUE(is_binary_body({{"content-type", "application/json"}, {"content-encoding", "gzip"}}, "x"));
  EXPECT_FALSE(is_binary_body({{"content-type", "application/problem+json; charset=utf-8"}}, "{}"));
  EXPECT_FALSE(is_binary_body({{"Content-Type", "TEXT/HTML"}}, "<p>"));
  EXPECT_FALSE(is_binary_body({}, "plain words"));
  EXPECT_TRUE(is_binary_body({}, std::string("\xff\xfe", 2)));
}

TEST(HttpResult, NonHttpEventsGetTheAppsJsonAsTheResultAndNullForAnythingElse) {
  EXPECT_EQ(result_from_response({}, {.status = 200, .headers = {}, .body = R"({"batchItemFailures":[]})"}),
            R"({"batchItemFailures":[]})");
  EXPECT_EQ(result_from_response({}, {.status = 200, .headers = {{"content-type", "application/json"}}, .body = "[1]"}),
            "[1]");
  // As the app wrote it: no number rounded through a double, no 1e999 turned into Infinity.
  const std::string exact = R"({"id": 123456789012345678901234567890, "big": 1e999})";
  EXPECT_EQ(result_from_response({}, {.status = 200, .headers = {}, .body = exact}), exact);
  // As LWA answers (lambda_http's pass-through): text that is not JSON, a binary type, nothing.
  EXPECT_EQ(result_from_response({}, {.status = 200, .headers = {}, .body = "done"}), "null");
  EXPECT_EQ(result_from_response({}, {.status = 200, .headers = {{"content-type", "text/plain"}}, .body = "ok"}),
            "null");
  EXPECT_EQ(result_from_response(
                {}, {.status = 200, .headers = {{"content-type", "application/octet-stream"}}, .body = "{}"}),
            "null");
  EXPECT_EQ(result_from_response({}, {.status = 204, .headers = {}, .body = ""}), "null");
}

}  // namespace
}  // namespace snapbus::lambda
