// Message text for the email channel: headers, encoded-words, MIME parts, DATA framing.
#include "delivery/mime.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

#include "core/crypto.hpp"

namespace otpd::delivery {
namespace {

constexpr std::size_t kBase64LineLength = 76;  // RFC 2045 6.8
// 45 bytes are 60 base64 characters, plus the 12 of "=?UTF-8?B?" and "?=": 72, under the
// 75 that RFC 2047 allows an encoded-word.
constexpr std::size_t kEncodedWordBytes = 45;
// A "Subject: " line stays within the 78 columns RFC 5322 recommends.
constexpr std::size_t kMaxPlainHeaderText = 66;
constexpr std::size_t kMaxLineOctets = 998;  // RFC 5322 2.1.1, without the CRLF

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

bool is_ascii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// RFC 5322 atext, the characters a display name may use without quotes (with spaces
// between words).
bool is_atext(char c) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-/=?^_`{|}~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         kSymbols.find(c) != std::string_view::npos;
}

// Always encodes, in words split between whole UTF-8 characters: a decoder must be able to
// turn each word into text on its own (RFC 2047 5).
std::string encoded_words(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + kEncodedWordBytes);
    while (end > start + 1 && end < text.size() &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;  // never end a word before a continuation byte
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + core::base64_encode(text.substr(start, end - start)) + "?=";
    start = end;
  }
  return out;
}

std::string quoted_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// 7bit (RFC 2045 2.7) after line ends became CRLF: ASCII without NUL, short lines.
bool fits_7bit(std::string_view crlf_text) {
  std::size_t line = 0;
  for (const char c : crlf_text) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u >= 0x80) return false;
    if (c == '\n') {
      line = 0;
    } else if (c != '\r' && ++line > kMaxLineOctets) {
      return false;
    }
  }
  return true;
}

std::string with_final_crlf(std::string text) {
  if (text.size() < 2 || text.compare(text.size() - 2, 2, "\r\n") != 0) text += "\r\n";
  return text;
}

std::string base64_part(std::string_view content_type, std::string_view text) {
  return "Content-Type: " + std::string(content_type) +
         "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         base64_lines(to_crlf(text));
}

}  // namespace

std::optional<Mailbox> parse_mailbox(std::string_view text, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<Mailbox> {
    if (why) *why = reason;
    return std::nullopt;
  };
  for (const char c : text) {
    if (is_control(static_cast<unsigned char>(c))) {
      return fail("it has a line break or another control character");
    }
  }
  text = trim(text);
  Mailbox mailbox;
  if (!text.empty() && text.back() == '>') {
    const auto open = text.rfind('<');
    if (open == std::string_view::npos) return fail("it has '>' without '<'");
    mailbox.address = std::string(text.substr(open + 1, text.size() - open - 2));
    std::string_view name = trim(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) ++i;
        mailbox.display_name.push_back(name[i]);
      }
    } else {
      mailbox.display_name = std::string(name);
    }
  } else {
    mailbox.address = std::string(text);
  }
  if (!is_plain_address(mailbox.address)) return fail("it has no address (local@domain)");
  return mailbox;
}

bool is_plain_address(std::string_view address) {
  static constexpr std::string_view kRefused = "<>()[],;:\\\"";
  if (address.size() > 254) return false;
  for (const char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || kRefused.find(c) != std::string_view::npos) return false;
  }
  const auto at = address.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < address.size() &&
         address.find('@', at + 1) == std::string_view::npos;
}

std::string base64_lines(std::string_view bytes) {
  const std::string encoded = core::base64_encode(bytes);
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += kBase64LineLength) {
    out += encoded.substr(i, kBase64LineLength);
    out += "\r\n";
  }
  return out;
}

std::string encode_header_text(std::string_view text) {
  bool plain = text.size() <= kMaxPlainHeaderText && text.find("=?") == std::string_view::npos;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (is_control(u) || u >= 0x80) plain = false;
  }
  return plain ? std::string(text) : encoded_words(text);
}

std::string format_mailbox(const Mailbox& mailbox) {
  const std::string_view name = mailbox.display_name;
  if (name.empty()) return mailbox.address;
  std::string phrase;
  if (!is_ascii(name)) {
    phrase = encoded_words(name);
  } else if (std::all_of(name.begin(), name.end(),
                         [](char c) { return is_atext(c) || c == ' '; })) {
    phrase = std::string(name);
  } else {
    phrase = quoted_string(name);
  }
  return phrase + " <" + mailbox.address + ">";
}

std::string format_rfc5322_date(core::TimePoint t) {
  // Names spelt out rather than strftime's %a and %b, which follow the process locale.
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const long long ms = core::to_unix_ms(t);
  const auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string build_message(const MailContent& content) {
  std::string out;
  out += "From: " + format_mailbox(content.from) + "\r\n";
  out += "To: " + content.to + "\r\n";
  out += "Subject: " + encode_header_text(content.subject) + "\r\n";
  out += "Date: " + format_rfc5322_date(content.date) + "\r\n";
  out += "Message-ID: <" + content.message_id + ">\r\n";
  // RFC 3834: an automatic message; well-behaved responders send no vacation replies.
  out += "Auto-Submitted: auto-generated\r\n";
  out += "MIME-Version: 1.0\r\n";
  if (content.html.empty()) {
    const std::string text = with_final_crlf(to_crlf(content.text));
    if (fits_7bit(text)) {
      out += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n";
      out += text;
    } else {
      out += base64_part("text/plain", content.text);
    }
    return out;
  }
  const std::string delimiter = "--" + content.boundary;
  out += "Content-Type: multipart/alternative; boundary=\"" + content.boundary + "\"\r\n\r\n";
  out += delimiter + "\r\n" + base64_part("text/plain", content.text);
  out += delimiter + "\r\n" + base64_part("text/html", content.html);
  out += delimiter + "--\r\n";
  return out;
}

std::string smtp_data_block(std::string_view message) {
  const std::string text = to_crlf(message);
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find("\r\n", start);
    end = end == std::string::npos ? text.size() : end + 2;
    if (text[start] == '.') out.push_back('.');
    out.append(text, start, end - start);
    start = end;
  }
  return with_final_crlf(std::move(out)) + ".\r\n";
}

}  // namespace otpd::delivery
