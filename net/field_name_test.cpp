#include "snapbus/field_name.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
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

TEST(FieldName, EveryByteIsATokenByteOrNot) {
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       (byte != 0 && std::strchr("!#$%&'*+-.^_`|~", byte) != nullptr);
    EXPECT_EQ(is_field_name(std::string(1, c)), token) << byte;
    EXPECT_EQ(is_field_name("x-" + std::string(1, c) + "-y"), token) << byte;
  }
}

// The eight-byte check against the byte-by-byte one: each byte value at every offset of every length
// up to 20, in text that is otherwise plain (whole words, the tail, and text shorter than a word).
TEST(FieldName, AValueIsCheckedAsItsBytesAre) {
  for (std::size_t length = 1; length <= 20; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string value(length, 'v');
        value[at] = static_cast<char>(byte);
        const bool expected = std::all_of(value.begin(), value.end(), is_field_value_char);
        ASSERT_EQ(is_field_value(value), expected) << "byte " << byte << " at " << at << " of " << length;
      }
    }
  }
  EXPECT_TRUE(is_field_value(""));
  EXPECT_TRUE(is_field_value("Mozilla/5.0 (X11; Linux x86_64)\tgzip, br; q=0.9 \xc3\xa4"));
  EXPECT_FALSE(is_field_value("injected\r\nx-admin: true"));
}

}  // namespace
}  // namespace snapbus::net
