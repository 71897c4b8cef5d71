// The values the Redis store keeps (see key_schema.hpp for where), in the compact binary of
// bytes.hpp. Every value starts with its own expiry, which is also its key's PEXPIREAT (or,
// for a field of a bucket hash, when the scripts may drop it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/send_rules.hpp"
#include "core/token_bucket.hpp"
#include "core/verification.hpp"
#include "store/store.hpp"

namespace otpd::store::redis {

// Everything kept for one recipient hash in one tenant: its verifications in the order they
// were started (each one is also its send record: a send lives as long as its
// verification, as in the other stores) and the times of wrong checks against it.
struct RecipientRecord {
  std::vector<core::Verification> verifications;
  std::vector<core::TimePoint> failures;

  // When nothing in it matters any more: the last delete_after, or an hour after the last
  // failure, whichever is later.
  core::TimePoint expires_at() const;
  // Drops what a store with a sweeper would have swept by `now`: verifications past
  // delete_after and failures out of the failure budget's hour.
  void prune(core::TimePoint now);
  bool empty() const { return verifications.empty() && failures.empty(); }

  core::Verification* find(const core::VerificationId& id);
  const core::Verification* newest() const;  // the last started
  // Sends in (from, to] and failures in (now - 1 h, now], for the limits.
  core::WindowCount sends_in(core::TimePoint from, core::TimePoint to) const;
  core::WindowCount failures_in(core::TimePoint now) const;
};

// The tenant and recipient are the key's, so they are not stored; decode fills them in.
std::string encode_record(const RecipientRecord& record);
store::Result<RecipientRecord> decode_record(std::string_view value, const core::TenantId& tenant,
                                             const core::RecipientHash& recipient);

// A delivery job's payload (its tenant and id are in its key and queue member).
struct JobRecord {
  core::ChannelKind channel = core::ChannelKind::kConsole;
  int attempts = 0;
  core::TimePoint expires_at;     // the code's: the job's PEXPIREAT
  core::RecipientHash recipient;  // to find the verification when the job ends
  std::string sealed;
};
std::string encode_job(const JobRecord& job);
store::Result<JobRecord> decode_job(std::string_view value);

// Where an id's verification is: its recipient's record. The record shares its index entry's
// hash tag when the follow script (scripts.hpp) reads both in one step, and its field starts
// with the tenant as the entry's own field does, so an entry holds only what follows those:
// the key after its tag (`tail`: "r12", or "g0r1234" on one slot) and the packed recipient
// hash. The follow script reads them from fixed places: the expiry, kIndexFormat, the tail's
// length (one byte), the tail, then the field's ending.
inline constexpr std::uint8_t kIndexFormat = 2;
struct IndexEntry {
  std::string key_tail;  // the record's key after its hash tag ("...}")
  core::RecipientHash recipient;
};
// `record`: the record's key and field as key_schema.hpp names them.
std::string encode_index(std::string_view record_key, const core::RecipientHash& recipient,
                         core::TimePoint delete_after);
store::Result<IndexEntry> decode_index(std::string_view value);
// What a key's tail follows: everything up to its hash tag's '}' (the whole key if none).
std::string_view key_head(std::string_view key);

// An idempotency record. `pending` marks a claim taken by a send still on its way to its
// commit (Cluster only, where the claim and the commit are two steps): it expires within
// kPendingClaim unless the send finishes it.
struct IdempotencyEntry {
  bool pending = false;
  core::IdempotencyRecord record;
};
std::string encode_idempotency(const IdempotencyEntry& entry, core::TimePoint expires_at);
store::Result<IdempotencyEntry> decode_idempotency(std::string_view value,
                                                   const core::TenantId& tenant);

// A token bucket's state, kept until it is full again.
std::string encode_bucket(const core::TakeDecision& taken);
store::Result<core::BucketState> decode_bucket(std::string_view value);

}  // namespace otpd::store::redis
