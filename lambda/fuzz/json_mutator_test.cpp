#include "json_mutator.h"

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

namespace snapbus::lambda::fuzzing {
namespace {

namespace json = boost::json;

constexpr std::string_view kEvent =
    R"({"version":"2.0","rawPath":"/","headers":{"host":"x","accept":"*/*"},)"
    R"("requestContext":{"http":{"method":"GET","path":"/"}},"body":"hi","isBase64Encoded":false})";

// Whether some object of `text` (JSON) names a member twice. A json::value cannot hold that, so only the
// writer's twist makes one.
class DuplicateFinder {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    names_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    names_.pop_back();
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(json::string_view last, std::size_t, json::error_code&) {
    key_.append(last.data(), last.size());
    twice |= !names_.back().insert(key_).second;
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  bool twice = false;

 private:
  std::vector<std::set<std::string>> names_;
  std::string key_;
};

bool names_a_member_twice(std::string_view text) {
  json::basic_parser<DuplicateFinder> parser(json::parse_options{.allow_invalid_utf8 = true});
  boost::system::error_code error;
  parser.write_some(false, text.data(), text.size(), error);
  EXPECT_FALSE(error) << text;
  return parser.handler().twice;
}

// One of the edge-case strings is not UTF-8, which only json::parse's check refuses.
const json::parse_options kAnyBytes = {.allow_invalid_utf8 = true};

// Stands in for LLVMFuzzerMutate, counting its calls.
int byte_mutations = 0;
std::size_t count_byte_mutation(std::uint8_t* /*data*/, std::size_t size, std::size_t /*max_size*/) {
  ++byte_mutations;
  return size;
}

TEST(JsonMutator, WhatIsNotJsonIsLeftToTheByteMutator) {
  EXPECT_EQ(mutate_json(R"({"a":)", 1), std::nullopt);
  EXPECT_EQ(mutate_json("", 1), std::nullopt);

  std::string bytes = "{not json";
  std::vector<char> buffer(bytes.begin(), bytes.end());
  byte_mutations = 0;
  for (unsigned seed = 0; seed < 8; ++seed) {
    EXPECT_EQ(mutate_json_or_bytes(reinterpret_cast<std::uint8_t*>(buffer.data()), buffer.size(), buffer.size(), seed,
                                   count_byte_mutation),
              buffer.size());
  }
  EXPECT_EQ(byte_mutations, 8);
}

TEST(JsonMutator, EveryResultParsesAndMostDiffer) {
  int changed = 0;
  constexpr int kSeeds = 2000;
  for (std::uint32_t seed = 0; seed < kSeeds; ++seed) {
    const std::optional<std::string> mutated = mutate_json(kEvent, seed);
    ASSERT_TRUE(mutated.has_value()) << seed;
    boost::system::error_code error;
    (void)json::parse(*mutated, error, {}, kAnyBytes);
    ASSERT_FALSE(error) << "seed " << seed << ": " << error.message() << "\n" << *mutated;
    EXPECT_EQ(mutate_json(kEvent, seed), mutated) << "seed " << seed << " gave two results";
    if (*mutated != kEvent) ++changed;
  }
  EXPECT_GT(changed, kSeeds * 9 / 10);
}

TEST(JsonMutator, ReachesTheShapesByteMutationsMiss) {
  bool http_null = false;
  bool http_removed = false;
  bool member_twice = false;
  bool escaped_key = false;
  bool spaced = false;
  bool wrapped = false;
  for (std::uint32_t seed = 0; seed < 20000; ++seed) {
    const std::string mutated = *mutate_json(kEvent, seed);
    const json::value value = json::parse(mutated, {}, kAnyBytes);
    const json::value* context = value.is_object() ? value.get_object().if_contains("requestContext") : nullptr;
    if (context != nullptr && context->is_object()) {
      const json::value* http = context->as_object().if_contains("http");
      http_null |= http != nullptr && http->is_null();
      http_removed |= http == nullptr && mutated.find("\"http\"") == std::string::npos;
      wrapped |= http != nullptr && http->is_array() && !http->as_array().empty() && http->as_array()[0].is_object();
    }
    member_twice |= names_a_member_twice(mutated);
    escaped_key |= mutated.find("\\u0068\\u0065\\u0061") != std::string::npos;  // "hea...": headers escaped
    spaced |= mutated.find(" \n\t") != std::string::npos;
  }
  EXPECT_TRUE(http_null);
  EXPECT_TRUE(http_removed);
  EXPECT_TRUE(member_twice);
  EXPECT_TRUE(escaped_key);
  EXPECT_TRUE(spaced);
  EXPECT_TRUE(wrapped);
}

TEST(JsonMutator, AResultThatFitsIsCopiedAndOneTooLargeFallsBackToBytes) {
  byte_mutations = 0;
  int copied = 0;
  constexpr char kCanary = '#';
  for (unsigned seed = 0; seed < 200; seed += 2) {
    // No room beyond the document itself; a canary past it must stay untouched.
    std::vector<char> buffer(kEvent.begin(), kEvent.end());
    buffer.push_back(kCanary);
    const int before = byte_mutations;
    const std::size_t size = mutate_json_or_bytes(reinterpret_cast<std::uint8_t*>(buffer.data()), kEvent.size(),
                                                  kEvent.size(), seed, count_byte_mutation);
    EXPECT_EQ(buffer.back(), kCanary) << "seed " << seed;
    const std::optional<std::string> mutated = mutate_json(kEvent, seed / 2);
    if (mutated->size() <= kEvent.size()) {
      EXPECT_EQ(byte_mutations, before) << "seed " << seed;
      EXPECT_EQ(std::string_view(buffer.data(), size), *mutated) << "seed " << seed;
      ++copied;
    } else {
      EXPECT_EQ(byte_mutations, before + 1) << "seed " << seed;
    }
  }
  EXPECT_GT(copied, 0);
  EXPECT_GT(byte_mutations, 0);
}

TEST(JsonMutator, NumbersJsonCannotWriteStayJson) {
  // Boost.JSON reads 0e9999 as NaN and 1e9999 as infinity; json::serialize would write them as NaN
  // and Infinity.
  for (std::uint32_t seed = 0; seed < 300; ++seed) {
    const std::optional<std::string> mutated = mutate_json(R"({"a": [0e9999, 1e9999, -1e9999]})", seed);
    ASSERT_TRUE(mutated.has_value());
    boost::system::error_code error;
    (void)json::parse(*mutated, error, {}, kAnyBytes);
    ASSERT_FALSE(error) << "seed " << seed << ": " << *mutated;
  }
}

}  // namespace
}  // namespace snapbus::lambda::fuzzing
