// Base64 bodies, the UTF-8 check that decides how a response body travels, and event paths
// made safe as request targets.
#include "lambda/encoding.hpp"

#include <gtest/gtest.h>

#include "core/crypto.hpp"

namespace otpd::lambda {
namespace {

TEST(Base64Decode, DecodesPaddedText) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbA=="), "hell");
  EXPECT_EQ(base64_decode("aGVs"), "hel");
  EXPECT_EQ(base64_decode(""), "");
}

TEST(Base64Decode, RoundTripsEveryByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= bytes.size(); n += 37) {
    const std::string part = bytes.substr(0, n);
    EXPECT_EQ(base64_decode(core::base64_encode(part)), part) << n;
  }
}

TEST(Base64Decode, RefusesMalformedText) {
  EXPECT_FALSE(base64_decode("aGVsbG8"));    // not a multiple of 4
  EXPECT_FALSE(base64_decode("aGV=bG8="));   // padding in the middle
  EXPECT_FALSE(base64_decode("a==="));       // too much padding
  EXPECT_FALSE(base64_decode("aGVs bG8="));  // whitespace
  EXPECT_FALSE(base64_decode("aGVsbG8_"));   // base64url alphabet
  EXPECT_FALSE(base64_decode(" aGVsbG8="));  // leading space, which OpenSSL would skip
}

TEST(IsUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("{\"code\":\"invalid_code\"}"));
  EXPECT_TRUE(is_utf8("Grüße € 𝄞"));
  EXPECT_TRUE(is_utf8(std::string("a\0b", 3)));
}

TEST(IsUtf8, RefusesMalformedSequences) {
  EXPECT_FALSE(is_utf8("\xC3\x28"));          // bad continuation
  EXPECT_FALSE(is_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_utf8("abc\xE2\x82"));       // truncated
  EXPECT_FALSE(is_utf8("\xFF"));
  EXPECT_FALSE(is_utf8("\x89PNG\r\n"));
}

TEST(PathAsTarget, KeepsEncodedPathsAsTheyAre) {
  EXPECT_EQ(path_as_target("/v1/otp/v_abc-DEF"), "/v1/otp/v_abc-DEF");
  EXPECT_EQ(path_as_target("/user/test%2Balias@gmail.com"), "/user/test%2Balias@gmail.com");
  EXPECT_EQ(path_as_target("/a+b;c=d:e"), "/a+b;c=d:e");
}

TEST(PathAsTarget, EscapesWhatCannotStandInAPath) {
  EXPECT_EQ(path_as_target("/a b"), "/a%20b");
  EXPECT_EQ(path_as_target("/users/me?admin=true"), "/users/me%3Fadmin=true");
  EXPECT_EQ(path_as_target("/orders#x"), "/orders%23x");
  EXPECT_EQ(path_as_target("/100%"), "/100%25");
  EXPECT_EQ(path_as_target("/%zz"), "/%25zz");
  EXPECT_EQ(path_as_target("/caf\xC3\xA9"), "/caf%C3%A9");
  EXPECT_EQ(path_as_target("/a\r\nb"), "/a%0D%0Ab");
  EXPECT_EQ(path_as_target(""), "/");
  EXPECT_EQ(path_as_target("relative"), "/relative");
}

}  // namespace
}  // namespace otpd::lambda
