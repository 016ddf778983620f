#include "racelab/http/message.h"

#include <gtest/gtest.h>

#include <string>

namespace racelab::http {
namespace {

TEST(FieldNameTest, OnlyANonEmptyTokenNamesAField) {
  EXPECT_TRUE(IsFieldName("X-Forwarded-For"));
  EXPECT_TRUE(IsFieldName("!#$%&'*+-.^_`|~09azAZ"));
  EXPECT_FALSE(IsFieldName(""));
  EXPECT_FALSE(IsFieldName("Bad Name"));
  EXPECT_FALSE(IsFieldName("Name:"));
  EXPECT_FALSE(IsFieldName("X-\xc3\xa9"));  // a non-ASCII byte
  EXPECT_FALSE(IsFieldName(std::string("X\0Y", 3)));
}

// Whatever would end the line early is refused: a split response or an
// injected header line.
TEST(FieldValueTest, CrLfOrNulAnywhereIsRefused) {
  EXPECT_TRUE(IsFieldValue(""));
  EXPECT_TRUE(IsFieldValue("text/plain; charset=utf-8"));
  EXPECT_FALSE(IsFieldValue("a\r\nSet-Cookie: stolen=1"));
  EXPECT_FALSE(IsFieldValue("a\nb"));
  EXPECT_FALSE(IsFieldValue("a\rb"));
  EXPECT_FALSE(IsFieldValue(std::string("a\0b", 3)));
}

TEST(EqualsIgnoringCaseTest, ComparesAsciiLettersWithoutCaseAndNothingElse) {
  EXPECT_TRUE(EqualsIgnoringCase("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(EqualsIgnoringCase("Content-Length", "Content-Lengths"));
  EXPECT_FALSE(EqualsIgnoringCase("a-b", "a_b"));
  EXPECT_FALSE(EqualsIgnoringCase("[", "{"));  // 0x5b and 0x7b differ by the case bit only
}

}  // namespace
}  // namespace racelab::http
