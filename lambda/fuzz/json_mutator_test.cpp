#include "json_mutator.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace snapbus::lambda::fuzzing {
namespace {

namespace json = boost::json;

constexpr std::string_view kEvent =
    R"({"version":"2.0","rawPath":"/","headers":{"host":"x","accept":"*/*"},)"
    R"("requestContext":{"http":{"method":"GET","path":"/"}},"body":"hi","isBase64Encoded":false})";

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
    std::size_t first = mutated.find("\"rawPath\"");
    member_twice |= first != std::string::npos && mutated.find("\"rawPath\"", first + 1) != std::string::npos;
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

TEST(JsonMutator, AResultTooLargeFallsBackToBytes) {
  std::vector<char> buffer(kEvent.begin(), kEvent.end());
  byte_mutations = 0;
  for (unsigned seed = 0; seed < 200; seed += 2) {
    std::vector<char> copy = buffer;
    // No room beyond the document itself: any result that grew goes to the byte mutator.
    const std::size_t size = mutate_json_or_bytes(reinterpret_cast<std::uint8_t*>(copy.data()), copy.size(),
                                                  copy.size(), seed, count_byte_mutation);
    EXPECT_LE(size, copy.size());
  }
  EXPECT_GT(byte_mutations, 0);
  EXPECT_LT(byte_mutations, 100);
}

}  // namespace
}  // namespace snapbus::lambda::fuzzing
