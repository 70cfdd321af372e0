// Web mode's per-invocation CPU outside I/O (issue 10), both ways.
//
// An event made into the app's request (lambda::request_from_event), against only parsing the same
// event with Boost.JSON, the least any adapter does with it, and against the same request made from
// what Boost.JSON's parser builds (lambda/event_json.h), as request_from_event made it until the event
// had a scan of its own (lambda/event_scan.h), and as it still does for what that scan declines.
//
//   BM_ParseOnly/<event>               boost::json::parse of the payload
//   BM_RequestFromEvent/<event>        request_from_event of the same payload
//   BM_RequestFromParsedEvent/<event>  parse_event_json, then request_from_parsed_event
//
// Events: three real ones from ../shared/vectors/lambda-events (HTTP API 2.0, REST, ALB), as written
// there (indented); the 2.0 one on one line, as the Runtime API hands events over, whose
// requestContext goes to the app as it is; and the 2.0 event with a 1 MiB text body.
//
// The app's answer made into the result for an HTTP API (lambda::result_from_response, JSON written
// by hand), against the same result built as a json::object and serialized by Boost.JSON, as the
// adapter wrote it until 2026-12-06 and as most adapters would.
//
//   BM_ResultAsJsonObject/<answer>  the json::object, serialized
//   BM_ResultFromResponse/<answer>  result_from_response (which also checks the body is text)
//
// Answers: 64 bytes of text (the adapter benchmark's), a 10 KiB JSON document (a quote to escape
// every few bytes), 1 MiB of text.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "event_json.h"
#include "json_text.h"
#include "snapbus/file_contents.h"
#include "snapbus/http_event.h"

namespace {

struct Event {
  std::string label;
  std::string payload;
};

std::string read_vector(const std::string& name) {
  return snapbus::read_file_contents(std::filesystem::path(SNAPBUS_EVENT_VECTORS) / name);
}

std::string with_large_body(const std::string& payload) {
  boost::json::value event = boost::json::parse(payload);
  event.as_object()["body"] = std::string(std::size_t{1} << 20, 'x');
  event.as_object()["isBase64Encoded"] = false;
  return boost::json::serialize(event);
}

const std::vector<Event>& events() {
  static const std::vector<Event> all = [] {
    const std::string http_api = read_vector("http-apigw_v2_proxy_request.json");
    return std::vector<Event>{{"http_api_v2", http_api},
                              {"rest", read_vector("example-apigw-request.json")},
                              {"alb", read_vector("http-alb_request.json")},
                              {"http_api_v2_one_line", snapbus::lambda::compact_text(http_api)},
                              {"http_api_v2_1MiB_body", with_large_body(http_api)}};
  }();
  return all;
}

void set_counters(benchmark::State& state, const Event& event) {
  state.SetLabel(event.label);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * event.payload.size()));
  state.counters["event_bytes"] = static_cast<double>(event.payload.size());
}

void BM_ParseOnly(benchmark::State& state) {
  const Event& event = events().at(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    boost::json::value parsed = boost::json::parse(event.payload);
    benchmark::DoNotOptimize(parsed);
  }
  set_counters(state, event);
}

void BM_RequestFromEvent(benchmark::State& state) {
  const Event& event = events().at(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    snapbus::lambda::HttpEventRequest request = snapbus::lambda::request_from_event(event.payload);
    benchmark::DoNotOptimize(request);
  }
  set_counters(state, event);
}

void BM_RequestFromParsedEvent(benchmark::State& state) {
  const Event& event = events().at(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    // request_from_event's arena, on the stack as there.
    std::array<unsigned char, 8192> arena_on_stack;
    boost::json::monotonic_resource arena(arena_on_stack.data(), arena_on_stack.size());
    boost::system::error_code error;
    snapbus::lambda::ParsedEvent parsed = snapbus::lambda::parse_event_json(event.payload, &arena, error);
    snapbus::lambda::HttpEventRequest request = snapbus::lambda::request_from_parsed_event(event.payload, parsed);
    benchmark::DoNotOptimize(request);
  }
  set_counters(state, event);
}

void each_event(benchmark::internal::Benchmark* bench) {
  bench->ArgName("event");
  for (std::size_t i = 0; i < events().size(); ++i) bench->Arg(static_cast<std::int64_t>(i));
}

BENCHMARK(BM_ParseOnly)->Apply(each_event);
BENCHMARK(BM_RequestFromEvent)->Apply(each_event);
BENCHMARK(BM_RequestFromParsedEvent)->Apply(each_event);

struct Answer {
  std::string label;
  snapbus::lambda::HttpAppResponse response;
};

std::string json_document(std::size_t bytes) {
  std::string out = "[";
  while (out.size() < bytes) out += R"({"id":1234,"name":"item","tags":["a","b"],"price":9.5},)";
  out.back() = ']';
  return out;
}

const std::vector<Answer>& answers() {
  static const std::vector<Answer> all{
      {"text_64B", {.status = 200, .headers = {{"content-type", "text/plain"}}, .body = std::string(64, 'h')}},
      {"json_10KiB", {.status = 200, .headers = {{"content-type", "application/json"}}, .body = json_document(10240)}},
      {"text_1MiB",
       {.status = 200, .headers = {{"content-type", "text/plain"}}, .body = std::string(std::size_t{1} << 20, 'x')}}};
  return all;
}

void set_counters(benchmark::State& state, const Answer& answer) {
  state.SetLabel(answer.label);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * answer.response.body.size()));
  state.counters["body_bytes"] = static_cast<double>(answer.response.body.size());
}

void BM_ResultAsJsonObject(benchmark::State& state) {
  const Answer& answer = answers().at(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    boost::json::object headers;
    for (const auto& [name, value] : answer.response.headers) headers[name] = value;
    const boost::json::object result{{"statusCode", answer.response.status},
                                     {"headers", std::move(headers)},
                                     {"cookies", boost::json::array()},
                                     {"body", answer.response.body},
                                     {"isBase64Encoded", false}};
    std::string text = boost::json::serialize(result);
    benchmark::DoNotOptimize(text);
  }
  set_counters(state, answer);
}

void BM_ResultFromResponse(benchmark::State& state) {
  const Answer& answer = answers().at(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    std::string text = snapbus::lambda::result_from_response({.source = snapbus::lambda::EventSource::api_gateway_http},
                                                             answer.response);
    benchmark::DoNotOptimize(text);
  }
  set_counters(state, answer);
}

void each_answer(benchmark::internal::Benchmark* bench) {
  bench->ArgName("answer");
  for (std::size_t i = 0; i < answers().size(); ++i) bench->Arg(static_cast<std::int64_t>(i));
}

BENCHMARK(BM_ResultAsJsonObject)->Apply(each_answer);
BENCHMARK(BM_ResultFromResponse)->Apply(each_answer);

}  // namespace

BENCHMARK_MAIN();
