// Wire names of a verification's status and delivery status, and the form of its id.
#include "core/verification.hpp"

#include <cstdint>
#include <string>

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

namespace {

// The otpd form: "v_" and these bytes in sortable base64url. 24 bytes are exactly 32 digits,
// so every spelling is canonical and decodes back.
constexpr std::size_t kTimeBytes = 6;  // 48 bits of milliseconds: until the year 10889
constexpr std::size_t kPlacementAt = kTimeBytes;
constexpr std::size_t kRandomBytes = 17;
constexpr std::size_t kIdBytes = kTimeBytes + 1 + kRandomBytes;
static_assert(kIdBytes % 3 == 0);
constexpr std::string_view kPrefix = "v_";

}  // namespace

VerificationId new_verification_id(RandomSource& rng, TimePoint now, std::uint8_t placement) {
  const auto ms = static_cast<std::uint64_t>(to_unix_ms(now));
  std::string bytes(kTimeBytes, '\0');
  for (std::size_t i = 0; i < kTimeBytes; ++i) {
    bytes[i] = static_cast<char>((ms >> (8 * (kTimeBytes - 1 - i))) & 0xff);
  }
  bytes += static_cast<char>(placement);
  bytes += random_bytes(rng, kRandomBytes);
  return VerificationId(std::string(kPrefix) + sortable_base64url_encode(bytes));
}

VerificationId new_verification_id(RandomSource& rng, IdStyle style, TimePoint now,
                                   std::uint8_t placement) {
  if (style == IdStyle::kTwilio) return VerificationId("VE" + hex_encode(random_bytes(rng, 16)));
  return new_verification_id(rng, now, placement);
}

std::optional<std::uint8_t> placement_in(const VerificationId& id) {
  const std::string_view text = id.str();
  if (text.size() != kPrefix.size() + kIdBytes / 3 * 4 || !text.starts_with(kPrefix)) {
    return std::nullopt;
  }
  const auto bytes = sortable_base64url_decode(text.substr(kPrefix.size()));
  if (!bytes) return std::nullopt;
  return static_cast<std::uint8_t>((*bytes)[kPlacementAt]);
}

}  // namespace otpd::core
