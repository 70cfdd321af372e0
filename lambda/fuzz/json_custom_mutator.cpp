// libFuzzer's custom mutator for the targets whose input is JSON (the events, the streamed prelude,
// the error bodies), linked into each of them: half of the mutations change the document's structure
// rather than its bytes (json_mutator.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/json_mutator.h"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  return snapbus::lambda::fuzzing::mutate_json_or_bytes(data, size, max_size, seed, LLVMFuzzerMutate);
}
