// The reason phrase of an HTTP status code, for an ALB result's statusDescription ("404 Not Found").
//
//   snapbus::lambda::reason_phrase(418);   // "I'm a teapot"
//   snapbus::lambda::reason_phrase(599);   // "": no name
//
// The names are those of Rust's `http` crate, which Lambda Web Adapter answers with: an app moved
// from LWA to snapbus sends ALB the same statusDescription. Beast's table differs (it names nginx's
// 444, 499 and 599, and not 103, 418 or 425).
#pragma once

#include <string_view>

namespace snapbus::lambda {

// The registered name of `status`, or an empty string for a code without one.
std::string_view reason_phrase(unsigned status) noexcept;

}  // namespace snapbus::lambda
