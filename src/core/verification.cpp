// Wire names of a verification's status and delivery status.
#include "core/verification.hpp"

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

VerificationId new_verification_id(RandomSource& rng) {
  return VerificationId("v_" + base64url_encode(random_bytes(rng, 16)));
}

}  // namespace otpd::core
