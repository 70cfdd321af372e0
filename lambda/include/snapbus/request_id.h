// Fresh identifiers in the shape Lambda uses for request ids and extension identifiers.
//
//   std::string id = snapbus::lambda::new_request_id();   // "3f0e1c2a-8b7d-4e6f-9a1b-2c3d4e5f6a7b"
#pragma once

#include <string>

namespace snapbus::lambda {

// A random (version 4) UUID in its 36-character text form.
std::string new_request_id();

}  // namespace snapbus::lambda
