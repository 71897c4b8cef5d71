// Recipients: validation and normalisation of email addresses and E.164 numbers, and the
// masked form that is all responses and logs ever show.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace otpd::core {

enum class RecipientKind { kEmail, kPhone };

struct Recipient {
  RecipientKind kind;
  std::string normalized;  // lower-cased address, or "+<digits>"
};

// Email: trimmed, lower-cased, one '@', a dotted domain of LDH labels, no spaces or
// control characters, at most 254 octets. Phone: strict E.164, "+" then 8 to 15 digits, no
// leading zero. Everything else is nullopt with `why` set to a short reason.
std::optional<Recipient> parse_recipient(std::string_view input, std::string* why = nullptr);

// "alice@example.com" -> "a***@example.com"; "+14155550100" -> "+141******00"
// (one star per hidden digit).
std::string mask_recipient(const Recipient& recipient);

}  // namespace otpd::core
