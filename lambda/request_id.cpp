#include "snapbus/request_id.h"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

namespace snapbus::lambda {

std::string new_request_id() {
  // A generator is not safe to share between threads, and seeding one per call costs a getrandom().
  thread_local boost::uuids::random_generator generate;
  return boost::uuids::to_string(generate());
}

}  // namespace snapbus::lambda
