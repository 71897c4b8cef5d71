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
  std::string normalized;  // lower-cased address, or "+<digits>": what masks are made of
  // Who the limits and lookups by `to` count against: for email the lower-cased address
  // with a +tag removed from the local part (every domain), and dots removed for Gmail
  // (gmail.com, googlemail.com, which are one mailbox: both read as gmail.com), so that
  // v.ictim+1@gmail.com is victim@gmail.com; for a phone, the E.164 number.
  std::string canonical;
  // Where the code goes: the address exactly as given (trimmed). Servers may treat the
  // local part's case as significant, so it is never lower-cased for delivery.
  std::string address;
};

// The reason given for input that is neither an address nor a number.
inline constexpr std::string_view kNotARecipient = "not an email address or an E.164 phone number";

// Email: trimmed, one '@', a dotted domain of LDH labels, no spaces or control characters,
// at most 254 octets. Phone: strict E.164, "+" then 8 to 15 digits, no leading zero.
// Everything else is nullopt with `why` set to a short reason a person can act on.
std::optional<Recipient> parse_recipient(std::string_view input, std::string* why = nullptr);

// "alice@example.com" -> "a***@example.com"; "+14155550100" -> "+141******00"
// (one star per hidden digit).
std::string mask_recipient(const Recipient& recipient);

}  // namespace otpd::core
