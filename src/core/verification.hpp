// A verification: one code sent to one recipient, and the states it moves through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/random.hpp"
#include "core/types.hpp"

namespace otpd::core {

// pending -> approved | canceled | max_attempts_reached; pending past expires_at reads as
// expired (derived from the clock, never stored, so no sweeper has to race the deadline).
enum class Status { kPending, kApproved, kCanceled, kExpired, kMaxAttemptsReached };
const char* to_string(Status status);
bool parse_status(std::string_view text, Status& out);

enum class DeliveryStatus { kQueued, kSent, kFailed };
const char* to_string(DeliveryStatus status);
bool parse_delivery_status(std::string_view text, DeliveryStatus& out);

struct Verification {
  TenantId tenant;
  VerificationId id;
  RecipientHash recipient;
  std::string masked_to;
  ChannelKind channel = ChannelKind::kConsole;
  Alphabet alphabet = Alphabet::kDigits;
  int code_length = 6;
  std::string code_hash;             // hex HMAC, see Keyring::code_hash
  Status status = Status::kPending;  // as stored: never kExpired
  int attempts = 0;                  // wrong checks counted against this code
  int max_attempts = 5;
  TimePoint created_at;
  TimePoint expires_at;
  TimePoint resend_at;  // when a new send to this recipient stops being held back
  std::optional<TimePoint> approved_at;
  TimePoint delete_after;  // expires_at + retention: the store's TTL
  DeliveryStatus delivery = DeliveryStatus::kQueued;
  std::string locale;
  std::string metadata_json;  // "" when none was given

  // The status a reader sees at `now`: a stored pending past its expiry is expired.
  Status effective_status(TimePoint now) const {
    if (status == Status::kPending && now >= expires_at) return Status::kExpired;
    return status;
  }
  int attempts_remaining() const { return attempts >= max_attempts ? 0 : max_attempts - attempts; }
};

// A fresh id: "v_", then the creation time, the recipient's placement byte (placement.hpp)
// and 136 random bits, in sortable base64url (32 characters). The time comes first, in
// milliseconds, so ids made close together sort close together: a store's index of ids then
// takes each new one near the last instead of on a random page, which on SQLite is one random
// B-tree page fewer written per send. The time adds nothing a holder of the id could not read
// from the verification's created_at, nor the placement byte anything about the recipient;
// the random bits keep ids unguessable and distinct. The prefix keeps the first character a
// letter, so an id is never mistaken for a command-line option and reads as a verification id
// wherever it is pasted.
VerificationId new_verification_id(RandomSource& rng, TimePoint now, std::uint8_t placement);

// Which form a new verification's id takes. kTwilio is "VE" and 128 random bits in 32
// lower-case hex digits: a Twilio Verification SID, so the Twilio-compatible API can hand the
// id out as its `sid` unchanged (and GET /v1/otp/VE... finds the same verification). That
// form has no room for a placement byte besides its 128 random bits, so it carries none.
enum class IdStyle { kOtpd, kTwilio };
VerificationId new_verification_id(RandomSource& rng, IdStyle style, TimePoint now,
                                   std::uint8_t placement);

// The placement byte an id of new_verification_id's otpd form carries; nullopt for any other
// id (Twilio form, the shorter "v_" ids of earlier versions, ids from elsewhere).
std::optional<std::uint8_t> placement_in(const VerificationId& id);

}  // namespace otpd::core
