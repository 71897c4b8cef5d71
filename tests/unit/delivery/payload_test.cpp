// The delivery payload's JSON form and its aad.
#include "delivery/payload.hpp"

#include <gtest/gtest.h>

namespace otpd::delivery {
namespace {

TEST(Payload, RoundTrip) {
  Payload p{"alice@example.com", "123456", "de-AT"};
  const auto json = encode_payload(p);
  EXPECT_EQ(json, R"({"to":"alice@example.com","code":"123456","locale":"de-AT"})");
  const auto back = decode_payload(json);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->to, p.to);
  EXPECT_EQ(back->code, p.code);
  EXPECT_EQ(back->locale, p.locale);
}

TEST(Payload, RoundTripEscapesAndUnicode) {
  Payload p{"\"quoted\"\\@example.com", "AB12", "zh-Hant-TW \xe4\xb8\xad"};
  const auto back = decode_payload(encode_payload(p));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->to, p.to);
  EXPECT_EQ(back->locale, p.locale);
}

TEST(Payload, LocaleIsOptional) {
  const auto p = decode_payload(R"({"to":"+14155550100","code":"1234"})");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->locale, "");
}

TEST(Payload, RejectsMalformed) {
  for (const char* bad : {"", "not json", "[]", "{}", R"({"to":"a"})", R"({"code":"1"})",
                          R"({"to":1,"code":"1"})", R"({"to":"a","code":1})",
                          R"({"to":"a","code":"1","locale":5})", R"({"to":"a","code":"1")"}) {
    EXPECT_FALSE(decode_payload(bad).has_value()) << bad;
  }
}

TEST(Payload, AadBindsTenantAndId) {
  const auto aad = payload_aad("acme", "v1");
  EXPECT_EQ(aad, std::string("otpd delivery v1\0acme\0v1", 24));
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(payload_aad("ab", "c"), payload_aad("a", "bc"));
}

}  // namespace
}  // namespace otpd::delivery
