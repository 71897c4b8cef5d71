// Wire names of a verification's status and delivery status.
#include "core/verification.hpp"

#include <cstdint>

#include "core/crypto.hpp"

namespace otpd::core {

const char* to_string(Status status) {
  switch (status) {
    case Status::kPending:
      return "pending";
    case Status::kApproved:
      return "approved";
    case Status::kCanceled:
      return "canceled";
    case Status::kExpired:
      return "expired";
    case Status::kMaxAttemptsReached:
      return "max_attempts_reached";
  }
  return "unknown";
}

const char* to_string(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::kQueued:
      return "queued";
    case DeliveryStatus::kSent:
      return "sent";
    case DeliveryStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

bool parse_status(std::string_view text, Status& out) {
  for (Status s : {Status::kPending, Status::kApproved, Status::kCanceled, Status::kExpired,
                   Status::kMaxAttemptsReached}) {
    if (text == to_string(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

bool parse_delivery_status(std::string_view text, DeliveryStatus& out) {
  for (DeliveryStatus s :
       {DeliveryStatus::kQueued, DeliveryStatus::kSent, DeliveryStatus::kFailed}) {
    if (text == to_string(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

VerificationId new_verification_id(RandomSource& rng, TimePoint now) {
  constexpr std::size_t kTimeBytes = 6;  // 48 bits of milliseconds: until the year 10889
  constexpr std::size_t kRandomBytes = 12;
  const auto ms = static_cast<std::uint64_t>(to_unix_ms(now));
  std::string bytes(kTimeBytes, '\0');
  for (std::size_t i = 0; i < kTimeBytes; ++i) {
    bytes[i] = static_cast<char>((ms >> (8 * (kTimeBytes - 1 - i))) & 0xff);
  }
  bytes += random_bytes(rng, kRandomBytes);
  return VerificationId("v_" + sortable_base64url_encode(bytes));
}

VerificationId new_verification_id(RandomSource& rng, IdStyle style, TimePoint now) {
  if (style == IdStyle::kTwilio) return VerificationId("VE" + hex_encode(random_bytes(rng, 16)));
  return new_verification_id(rng, now);
}

}  // namespace otpd::core
