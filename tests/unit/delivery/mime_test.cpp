// The email message text: base64, encoded-words, mailboxes, dates, the message layout and
// its SMTP DATA framing.
#include "delivery/mime.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/crypto.hpp"

namespace otpd::delivery {
namespace {

TEST(MimeTest, Base64LinesWrapAt76Columns) {
  const std::string encoded = base64_lines(std::string(100, 'x'));  // 136 characters
  ASSERT_EQ(encoded.size(), 136u + 4u);
  EXPECT_EQ(encoded.find("\r\n"), 76u);
  EXPECT_EQ(encoded.substr(encoded.size() - 2), "\r\n");
  EXPECT_EQ(base64_lines(""), "");
}

TEST(MimeTest, HeaderTextIsEncodedOnlyWhenItMustBe) {
  EXPECT_EQ(encode_header_text("Your code"), "Your code");
  EXPECT_EQ(encode_header_text("für"), "=?UTF-8?B?ZsO8cg==?=");
  // Text that looks like an encoded-word is encoded so it is not decoded by mistake.
  EXPECT_EQ(encode_header_text("=?x?="), "=?UTF-8?B?PT94Pz0=?=");
  EXPECT_EQ(encode_header_text("a\tb"), "=?UTF-8?B?YQli?=");
}

TEST(MimeTest, LongHeaderTextIsSplitBetweenWholeCharacters) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "ü";  // 80 bytes of two-byte characters
  const std::string encoded = encode_header_text(text);
  std::size_t start = 0;
  int words = 0;
  while (start < encoded.size()) {
    auto end = encoded.find("\r\n ", start);
    if (end == std::string::npos) end = encoded.size();
    const std::string word = encoded.substr(start, end - start);
    EXPECT_LE(word.size(), 75u) << word;
    ASSERT_EQ(word.rfind("=?UTF-8?B?", 0), 0u) << word;
    // 44 bytes is 22 whole characters; 45 would have cut one in two.
    EXPECT_TRUE(word == "=?UTF-8?B?" + core::base64_encode(text.substr(0, 44)) + "?=" ||
                word == "=?UTF-8?B?" + core::base64_encode(text.substr(0, 36)) + "?=")
        << word;
    ++words;
    start = end == encoded.size() ? end : end + 3;
  }
  EXPECT_EQ(words, 2);
}

TEST(MimeTest, ParsesMailboxes) {
  auto m = parse_mailbox("Acme <no-reply@acme.test>");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->display_name, "Acme");
  EXPECT_EQ(m->address, "no-reply@acme.test");

  m = parse_mailbox("  no-reply@acme.test ");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->display_name, "");
  EXPECT_EQ(m->address, "no-reply@acme.test");

  m = parse_mailbox(R"("Acme, \"Inc.\"" <a@acme.test>)");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->display_name, R"(Acme, "Inc.")");

  std::string why;
  for (const char* bad : {"", "Acme", "Acme <>", "Acme <a>", "a@b>", "<a@b@c>", "Acme <a b@c>",
                          "a@b.test\r\nBcc: x@y.test", "a@b.test\n"}) {
    EXPECT_FALSE(parse_mailbox(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

TEST(MimeTest, FormatsMailboxes) {
  EXPECT_EQ(format_mailbox({"", "a@acme.test"}), "a@acme.test");
  EXPECT_EQ(format_mailbox({"Acme Login", "a@acme.test"}), "Acme Login <a@acme.test>");
  EXPECT_EQ(format_mailbox({"Acme, Inc.", "a@acme.test"}), "\"Acme, Inc.\" <a@acme.test>");
  EXPECT_EQ(format_mailbox({"say \"hi\"", "a@acme.test"}), "\"say \\\"hi\\\"\" <a@acme.test>");
  EXPECT_EQ(format_mailbox({"Müller", "a@acme.test"}), "=?UTF-8?B?TcO8bGxlcg==?= <a@acme.test>");
}

TEST(MimeTest, FormatsDatesInUtc) {
  EXPECT_EQ(format_rfc5322_date(core::from_unix_ms(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_rfc5322_date(core::from_unix_ms(1'700'000'000'999)),
            "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(format_rfc5322_date(core::from_unix_ms(951'782'400'000)),
            "Tue, 29 Feb 2000 00:00:00 +0000");
}

TEST(MimeTest, LineEndsBecomeCrlf) {
  EXPECT_EQ(to_crlf("a\nb\r\nc\rd"), "a\r\nb\r\nc\r\nd");
  EXPECT_EQ(to_crlf("\n\n"), "\r\n\r\n");
  EXPECT_EQ(to_crlf("\r\r\n"), "\r\n\r\n");
}

TEST(MimeTest, DataBlockIsDotStuffedAndTerminated) {
  EXPECT_EQ(smtp_data_block("a\r\n.b\r\n..c\r\n.\r\n"), "a\r\n..b\r\n...c\r\n..\r\n.\r\n");
  EXPECT_EQ(smtp_data_block(".first\nlast"), "..first\r\nlast\r\n.\r\n");
  EXPECT_EQ(smtp_data_block("a. b .c\r\n"), "a. b .c\r\n.\r\n");
  EXPECT_EQ(smtp_data_block(""), "\r\n.\r\n");
}

MailContent content() {
  MailContent c;
  c.from = {"Acme", "no-reply@acme.test"};
  c.to = "alice@example.com";
  c.subject = "Your code";
  c.text = "Code: 123456";
  c.date = core::from_unix_ms(0);
  c.message_id = "abc@acme.test";
  c.boundary = "=_b";
  return c;
}

TEST(MimeTest, TextOnlyMessageIn7bit) {
  EXPECT_EQ(build_message(content()),
            "From: Acme <no-reply@acme.test>\r\n"
            "To: alice@example.com\r\n"
            "Subject: Your code\r\n"
            "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"
            "Message-ID: <abc@acme.test>\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "\r\n"
            "Code: 123456\r\n");
}

TEST(MimeTest, NonAsciiOrLongLinesGoInBase64) {
  MailContent c = content();
  c.text = "Code für dich";
  EXPECT_NE(build_message(c).find("Content-Transfer-Encoding: base64\r\n\r\n" +
                                  base64_lines("Code für dich")),
            std::string::npos);
  c.text = std::string(999, 'x');
  EXPECT_NE(build_message(c).find("Content-Transfer-Encoding: base64"), std::string::npos);
  c.text = std::string(998, 'x');
  EXPECT_NE(build_message(c).find("Content-Transfer-Encoding: 7bit"), std::string::npos);
}

TEST(MimeTest, HtmlMakesMultipartAlternative) {
  MailContent c = content();
  c.text = "line 1\nline 2";
  c.html = "<p>hi</p>";
  const std::string message = build_message(c);
  EXPECT_NE(message.find("MIME-Version: 1.0\r\n"
                         "Content-Type: multipart/alternative; boundary=\"=_b\"\r\n"
                         "\r\n"
                         "--=_b\r\n"
                         "Content-Type: text/plain; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: base64\r\n"
                         "\r\n" +
                         base64_lines("line 1\r\nline 2") +
                         "--=_b\r\n"
                         "Content-Type: text/html; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: base64\r\n"
                         "\r\n" +
                         base64_lines("<p>hi</p>") + "--=_b--\r\n"),
            std::string::npos)
      << message;
}

TEST(MimeTest, PlainAddresses) {
  EXPECT_TRUE(is_plain_address("alice@example.com"));
  EXPECT_TRUE(is_plain_address("a.b+tag@sub.example.com"));
  for (const char* bad :
       {"", "@", "a@", "@b", "a@b@c", "a b@c", "a<b@c", "a@b>", "a@b\r\n", "ä@b.test", "a\"@b"}) {
    EXPECT_FALSE(is_plain_address(bad)) << bad;
  }
}

}  // namespace
}  // namespace otpd::delivery
