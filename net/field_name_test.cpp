#include "snapbus/field_name.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace snapbus::net {
namespace {

TEST(FieldName, TokensAreNames) {
  for (const char* name : {"Authorization", "x-custom-auth", "X_Legacy", "a", "!#$%&'*+-.^_`|~", "Content-MD5"}) {
    EXPECT_TRUE(is_field_name(name)) << name;
  }
}

TEST(FieldName, WhatHttpCannotCarryIsNot) {
  for (const std::string& name :
       std::initializer_list<std::string>{"", "X Custom", "x-auth:", "x-auth\r\n", "(comment)", "x\"y", "ä", "x/y",
                                          "x@y", std::string("x\0y", 3), "tab\there"}) {
    EXPECT_FALSE(is_field_name(name)) << name;
  }
}

TEST(FieldName, AValueMayHoldTabAndNoOtherControlByte) {
  for (int byte = 0; byte < 256; ++byte) {
    const bool control = byte < 0x20 || byte == 0x7f;
    EXPECT_EQ(is_field_value_char(static_cast<char>(byte)), !control || byte == '\t') << byte;
  }
}

}  // namespace
}  // namespace snapbus::net
