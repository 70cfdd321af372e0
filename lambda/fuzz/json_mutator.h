// Structure-aware mutations for the fuzz targets whose input is JSON (events, preludes, error bodies):
//
//   extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
//                                                  unsigned int seed) {
//     return snapbus::lambda::fuzzing::mutate_json_or_bytes(data, size, max_size, seed, LLVMFuzzerMutate);
//   }
//
// libFuzzer's byte mutations seldom turn one well-formed event into another well-formed event of a
// different shape, and the decoders' assumptions live in those shapes: an object that is null, a member
// dropped or given twice, a key written with escapes. A byte-level run of 60 s never produced
// `"requestContext":{"http":null}`, which crashed the adapter until 386d432. These mutations parse the
// document, change its tree, and write it back, so every result is JSON the decoders get past the
// tokenizer with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snapbus::lambda::fuzzing {

// `document` with one to three structural changes chosen by `seed`, or nullopt when `document` is not
// JSON. Each change is one of: a value replaced (by null, a boolean, an edge-case number, an edge-case
// string, an empty container, or a copy of another value in the document), a member or element removed,
// a member added under a name the decoders read, a member renamed to such a name, a value wrapped in an
// array or an object; or, in the writing, one object with a member given twice, its keys written as
// \u escapes, or spaces between its tokens. The same seed gives the same result.
std::optional<std::string> mutate_json(std::string_view document, std::uint32_t seed);

// libFuzzer's own mutator (LLVMFuzzerMutate): changes the `size` bytes at `data` in place, within
// `max_size`, and returns the new size.
using ByteMutator = std::size_t (*)(std::uint8_t* data, std::size_t size, std::size_t max_size);

// For LLVMFuzzerCustomMutator: for half the seeds, mutate_json's change to the `size` bytes at `data`
// when they are JSON and the result fits in `max_size`; else `byte_mutator`'s, since the tokenizer's own
// edge cases need bytes that are not JSON. Returns the new size.
std::size_t mutate_json_or_bytes(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned int seed,
                                 ByteMutator byte_mutator);

}  // namespace snapbus::lambda::fuzzing
