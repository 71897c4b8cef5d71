// Internet Message Format (RFC 5322) and MIME (RFC 2045-2047) for the email channel: the
// mailbox of `from`, encoded-words, dates, the message text, and its SMTP DATA framing.
// Pure functions: the channel supplies the random parts, so tests get fixed output.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace otpd::delivery {

struct Mailbox {
  std::string display_name;  // UTF-8, unquoted; may be empty
  std::string address;       // "local@domain"
};

// "Acme <no-reply@acme.test>", "\"Acme, Inc.\" <no-reply@acme.test>" or
// "no-reply@acme.test". nullopt with `why` set when there is no usable address, or when
// the text holds a line break or another control character.
std::optional<Mailbox> parse_mailbox(std::string_view text, std::string* why = nullptr);

// Printable ASCII, no spaces or angle brackets, one '@' with text on both sides: what can
// go between the brackets of MAIL FROM:<...> and RCPT TO:<...>.
bool is_plain_address(std::string_view address);

// Standard base64 with padding (core::base64_encode), wrapped at 76 columns with CRLF
// after every line.
std::string base64_lines(std::string_view bytes);

// `text` as it may stand in a header: unchanged when it is short printable ASCII, else
// RFC 2047 "=?UTF-8?B?...?=" words of at most 75 characters, split between whole UTF-8
// characters and folded with CRLF SP.
std::string encode_header_text(std::string_view text);

// "From:" value: the address alone, or the display name (as an atom phrase, a quoted
// string, or encoded-words when non-ASCII) before "<address>".
std::string format_mailbox(const Mailbox& mailbox);

// RFC 5322 date-time in UTC: "Tue, 14 Nov 2023 22:13:20 +0000".
std::string format_rfc5322_date(core::TimePoint t);

// Every line break (CRLF, LF or a lone CR) as CRLF.
std::string to_crlf(std::string_view text);

struct MailContent {
  Mailbox from;
  std::string to;       // a plain address
  std::string subject;  // UTF-8, no line breaks
  std::string text;     // UTF-8
  std::string html;     // UTF-8; empty for a text-only message
  core::TimePoint date;
  std::string message_id;  // without angle brackets: "<random>@<domain>"
  std::string boundary;    // for multipart/alternative; must not occur in the parts
};

// The whole message with CRLF line ends. With html: multipart/alternative of text/plain
// then text/html, both base64. Without: one text/plain part, 7bit when the text is ASCII
// with lines of at most 998 octets (readable as it travels), else base64.
std::string build_message(const MailContent& content);

// The message as SMTP DATA carries it (RFC 5321 4.5.2): CRLF line ends, a '.' doubled at
// the start of every line, ending with the terminating "CRLF.CRLF".
std::string smtp_data_block(std::string_view message);

}  // namespace otpd::delivery
