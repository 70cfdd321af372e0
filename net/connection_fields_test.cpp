#include "snapbus/connection_fields.h"

#include <gtest/gtest.h>

namespace snapbus::net {
namespace {

TEST(ConnectionFields, TheFramingAndTheConnectionsOwnFieldsInAnyCase) {
  for (const char* name : {"Connection", "keep-alive", "Proxy-Connection", "Transfer-Encoding", "TE", "upgrade",
                           "CONTENT-LENGTH", "Expect"}) {
    EXPECT_TRUE(is_connection_field(name)) << name;
  }
}

TEST(ConnectionFields, WhatTheMessageSaysGoesOn) {
  for (const char* name :
       {"Host", "Trailer", "Content-Type", "Authorization", "Cookie", "Lambda-Runtime-Aws-Request-Id", "x-connection",
        "content-length-extra",
        // the lengths of the fields above, with other names
        "tf", "Accept", "Referer", "X-Amz-Date", "Accept-Charset", "X-Forwarded-Port", "If-Modified-Since"}) {
    EXPECT_FALSE(is_connection_field(name)) << name;
  }
}

}  // namespace
}  // namespace snapbus::net
