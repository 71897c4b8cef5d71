// Recipient validation tables and masking.
#include "core/recipient.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace otpd::core {
namespace {

struct Accept {
  std::string input;
  RecipientKind kind;
  std::string normalized;
};

TEST(ParseRecipient, Accepts) {
  const std::vector<Accept> cases = {
      {"alice@example.com", RecipientKind::kEmail, "alice@example.com"},
      {"Alice@Example.COM", RecipientKind::kEmail, "alice@example.com"},
      {"  alice@example.com\t\r\n", RecipientKind::kEmail, "alice@example.com"},
      {"first.last@sub.example.co.uk", RecipientKind::kEmail, "first.last@sub.example.co.uk"},
      {"user+tag@example.com", RecipientKind::kEmail, "user+tag@example.com"},
      {"o'brien@example.ie", RecipientKind::kEmail, "o'brien@example.ie"},
      {"a!#$%&'*+-/=?^_`{|}~z@example.org", RecipientKind::kEmail,
       "a!#$%&'*+-/=?^_`{|}~z@example.org"},
      {"x@a-b.example", RecipientKind::kEmail, "x@a-b.example"},
      {"x@123.example.com", RecipientKind::kEmail, "x@123.example.com"},
      {"x@example.xn--p1ai", RecipientKind::kEmail, "x@example.xn--p1ai"},
      {std::string(64, 'a') + "@example.com", RecipientKind::kEmail,
       std::string(64, 'a') + "@example.com"},
      {"+14155550100", RecipientKind::kPhone, "+14155550100"},
      {" +14155550100 ", RecipientKind::kPhone, "+14155550100"},
      {"+12345678", RecipientKind::kPhone, "+12345678"},                // 8 digits
      {"+123456789012345", RecipientKind::kPhone, "+123456789012345"},  // 15 digits
      {"+442071838750", RecipientKind::kPhone, "+442071838750"},
  };
  for (const auto& c : cases) {
    std::string why;
    const auto r = parse_recipient(c.input, &why);
    ASSERT_TRUE(r.has_value()) << "'" << c.input << "': " << why;
    EXPECT_EQ(r->kind, c.kind) << c.input;
    EXPECT_EQ(r->normalized, c.normalized);
  }
}

TEST(ParseRecipient, Rejects) {
  const std::vector<std::string> cases = {
      "",
      "   ",
      "alice",
      "alice.example.com",
      "@example.com",
      "alice@",
      "alice@@example.com",
      "alice@bob@example.com",
      "Alice <alice@example.com>",
      "<alice@example.com>",
      "\"alice\"@example.com",
      "\"a b\"@example.com",
      "alice smith@example.com",
      "alice@exa mple.com",
      ".alice@example.com",
      "alice.@example.com",
      "al..ice@example.com",
      "alice(comment)@example.com",
      "alice,bob@example.com",
      "alice@example",
      "alice@localhost",
      "alice@example.c",
      "alice@example.c0m",
      "alice@example.123",
      "alice@.example.com",
      "alice@example..com",
      "alice@example.com.",
      "alice@-example.com",
      "alice@example-.com",
      "alice@exa_mple.com",
      "alice@[192.168.0.1]",
      "al\xc3\xaf"
      "ce@example.com",
      "alice@ex\xc3\xa4mple.com",
      std::string("ali\0ce@example.com", 18),
      "ali\x01"
      "ce@example.com",
      std::string(65, 'a') + "@example.com",
      "a@" + std::string(64, 'b') + ".com",
      "a@" + std::string(62, 'b') + "." + std::string(62, 'c') + "." + std::string(62, 'd') + "." +
          std::string(62, 'e') + ".com",  // 257 octets, every label within 63
      "+",
      "+1",
      "+1234567",           // 7 digits
      "+1234567890123456",  // 16 digits
      "+04155550100",
      "14155550100",
      "+1 415 555 0100",
      "+1-415-555-0100",
      "+1(415)5550100",
      "++14155550100",
      "+1415555010a",
      "+١٤١٥٥٥٥٠١٠٠",  // Arabic-Indic digits
      "tel:+14155550100",
  };
  for (const auto& input : cases) {
    std::string why;
    EXPECT_FALSE(parse_recipient(input, &why).has_value()) << "'" << input << "'";
    EXPECT_FALSE(why.empty()) << "'" << input << "' rejected without a reason";
  }
}

TEST(ParseRecipient, WhyIsOptional) {
  EXPECT_FALSE(parse_recipient("nope").has_value());
  EXPECT_TRUE(parse_recipient("a@example.com").has_value());
}

std::string masked(std::string_view input) {
  const auto r = parse_recipient(input);
  EXPECT_TRUE(r.has_value()) << input;
  return r ? mask_recipient(*r) : "";
}

TEST(MaskRecipient, Email) {
  EXPECT_EQ(masked("alice@example.com"), "a***@example.com");
  EXPECT_EQ(masked("Bob.Smith+x@Mail.Example.org"), "b***@mail.example.org");
  EXPECT_EQ(masked("x@example.com"), "x***@example.com");
}

TEST(MaskRecipient, Phone) {
  EXPECT_EQ(masked("+14155550100"), "+141******00");
  EXPECT_EQ(masked("+12345678"), "+123***78");
  EXPECT_EQ(masked("+123456789012345"), "+123**********45");
}

TEST(MaskRecipient, NeverShowsTheMiddle) {
  const std::string m = masked("+14155550199");
  EXPECT_EQ(m.find("5550"), std::string::npos);
  EXPECT_EQ(masked("secretname@example.com").find("ecret"), std::string::npos);
}

TEST(MaskRecipient, MalformedRecipientRevealsNothing) {
  EXPECT_EQ(mask_recipient({RecipientKind::kEmail, "no-at-sign", "", ""}), "***");
  EXPECT_EQ(mask_recipient({RecipientKind::kPhone, "+123", "", ""}), "+***");
}

}  // namespace
}  // namespace otpd::core
