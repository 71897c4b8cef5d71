// Recipient validation, normalisation and masking; deliberately stricter than RFC 5322, since
// a code sent to an address nobody can type is a code nobody receives.
#include "core/recipient.hpp"

namespace otpd::core {
namespace {

constexpr std::size_t kMaxEmailLength = 254;  // RFC 5321's limit on a forward path
constexpr std::size_t kMaxLocalLength = 64;
constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMinPhoneDigits = 8;
constexpr std::size_t kMaxPhoneDigits = 15;  // E.164
constexpr std::size_t kPhoneShownPrefix = 3;
constexpr std::size_t kPhoneShownSuffix = 2;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 5322 atext; quoted local parts and comments are refused outright.
bool is_atext(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<Recipient> reject(std::string* why, const char* reason) {
  if (why != nullptr) *why = reason;
  return std::nullopt;
}

const char* local_part_problem(std::string_view local) {
  if (local.empty()) return "the part before @ is empty";
  if (local.size() > kMaxLocalLength) return "the part before @ is longer than 64 characters";
  if (local.front() == '.' || local.back() == '.')
    return "the part before @ starts or ends with a dot";
  char prev = '\0';
  for (const char c : local) {
    if (c == '.') {
      if (prev == '.') return "the part before @ has two dots in a row";
    } else if (!is_atext(c)) {
      return "the part before @ has a character not allowed in an address";
    }
    prev = c;
  }
  return nullptr;
}

bool is_tld(std::string_view label) {
  // Internationalised TLDs travel as punycode ("xn--p1ai"); every other TLD is letters.
  if (label.size() > 4 && label.substr(0, 4) == "xn--") return true;
  if (label.size() < 2) return false;
  for (const char c : label) {
    if (!is_alpha(c)) return false;
  }
  return true;
}

const char* domain_problem(std::string_view domain) {
  if (domain.empty()) return "the domain is empty";
  if (domain.find('.') == std::string_view::npos) return "the domain has no dot";
  std::string_view rest = domain;
  std::string_view label;
  while (true) {
    const std::size_t dot = rest.find('.');
    label = rest.substr(0, dot);
    if (label.empty()) return "the domain has an empty label";
    if (label.size() > kMaxLabelLength) return "a domain label is longer than 63 characters";
    if (label.front() == '-' || label.back() == '-') {
      return "a domain label starts or ends with a hyphen";
    }
    for (const char c : label) {
      if (!is_alpha(c) && !is_digit(c) && c != '-') {
        return "the domain has a character other than letters, digits, hyphens and dots";
      }
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (!is_tld(label)) return "the top-level domain is not at least two letters";
  return nullptr;
}

// `lower` is a valid, lower-cased address.
std::string canonical_mailbox(const std::string& lower) {
  const std::size_t at = lower.rfind('@');
  std::string local = lower.substr(0, at);
  std::string domain = lower.substr(at + 1);
  // A +tag is a label the mailbox owner's server ignores; an address that is all tag keeps
  // it, since nothing would be left.
  if (const std::size_t plus = local.find('+'); plus != std::string::npos && plus > 0) {
    local.resize(plus);
  }
  if (domain == "gmail.com" || domain == "googlemail.com") {
    domain = "gmail.com";
    std::erase(local, '.');
    if (local.empty()) return lower;
  }
  return local + "@" + domain;
}

bool looks_like_a_local_phone_number(std::string_view s) {
  bool digit = false;
  for (const char c : s) {
    if (is_digit(c)) {
      digit = true;
    } else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return false;
    }
  }
  return digit;
}

std::optional<Recipient> parse_email(std::string_view s, std::string* why) {
  if (s.size() > kMaxEmailLength) return reject(why, "the address is longer than 254 characters");
  const std::size_t at = s.find('@');
  if (s.find('@', at + 1) != std::string_view::npos) {
    return reject(why, "the address has more than one @");
  }
  if (const char* problem = local_part_problem(s.substr(0, at))) return reject(why, problem);
  if (const char* problem = domain_problem(s.substr(at + 1))) return reject(why, problem);
  Recipient r{RecipientKind::kEmail, std::string(s), "", std::string(s)};
  for (char& c : r.normalized) c = to_lower(c);
  r.canonical = canonical_mailbox(r.normalized);
  return r;
}

std::optional<Recipient> parse_phone(std::string_view s, std::string* why) {
  const std::string_view digits = s.substr(1);
  for (const char c : digits) {
    if (!is_digit(c)) return reject(why, "a phone number is + followed by digits only (E.164)");
  }
  if (digits.size() < kMinPhoneDigits || digits.size() > kMaxPhoneDigits) {
    return reject(why, "a phone number has 8 to 15 digits after the +");
  }
  if (digits.front() == '0') return reject(why, "a country code never starts with 0");
  return Recipient{RecipientKind::kPhone, std::string(s), std::string(s), std::string(s)};
}

}  // namespace

std::optional<Recipient> parse_recipient(std::string_view input, std::string* why) {
  const std::string_view s = trim(input);
  if (s.empty()) return reject(why, "the recipient is empty");
  if (s.front() == '+') return parse_phone(s, why);
  if (s.find('@') != std::string_view::npos) return parse_email(s, why);
  if (looks_like_a_local_phone_number(s)) {
    return reject(why, "phone numbers need the + and the country code (E.164), e.g. +14155550100");
  }
  return reject(why, kNotARecipient.data());
}

std::string mask_recipient(const Recipient& recipient) {
  const std::string& n = recipient.normalized;
  if (recipient.kind == RecipientKind::kEmail) {
    const std::size_t at = n.find('@');
    // Only a Recipient that skipped parse_recipient can lack these; show nothing of it.
    if (at == std::string::npos || at == 0) return "***";
    return n.substr(0, 1) + "***" + n.substr(at);
  }
  if (n.size() < 1 + kPhoneShownPrefix + kPhoneShownSuffix + 1 || n.front() != '+') return "+***";
  const std::size_t hidden = n.size() - 1 - kPhoneShownPrefix - kPhoneShownSuffix;
  return n.substr(0, 1 + kPhoneShownPrefix) + std::string(hidden, '*') +
         n.substr(n.size() - kPhoneShownSuffix);
}

}  // namespace otpd::core
