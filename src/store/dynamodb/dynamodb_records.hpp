// The DynamoDB store's items: their keys, their attributes, and their conversion to and from
// the values core decides on. One table, partition key `pk` and sort key `sk` (strings), TTL
// on `expires_at_ttl` (epoch seconds); every item carries one.
//
//   item                      pk                               sk
//   verification              v#<tenant>#<id>                  v
//   recipient aggregate       r#<tenant>#<recipient hash>      r
//   idempotency record        i#<tenant>#<key>                 i
//   token bucket              b#<key>                          b
//   fixed-window counter      c#<start ms>#<end ms>#<key>      c
//   delivery job              q#<shard>                        <tenant>#<id>
//   expiry index entry        x#<hour>#<shard>                 <delete_after ms, 13
//   digits>#<tenant>#<id>
//
// A verification is its record as record_codec writes it (`rec`, rewritten with `ver` + 1 by
// every change of its state) plus its delivery status (`dlv`, written on its own by the
// delivery queue, so the worker never races a check). It also keeps a copy of its
// recipient's wrong checks of the last hour (`fails`): a check by id then reads one item.
//
// The recipient aggregate holds what a send decides on, so a send reads one item per hash:
// a mirror of the newest verification stored under this hash (`nid`, `nrec`, and `nver`,
// the verification's `ver` that `nrec` is a copy of), the recent sends (`sent_at` with
// `sent_until`, the verification's delete_after: a send counts while its verification is
// kept) and the wrong checks of the last hour (`fails`). Every change to a pending
// verification is written to it too, in the same transaction: a pending verification is
// always the newest of its hash (a send supersedes the one before).
//
// Delivery jobs sit in kQueueShards partitions (by a hash of tenant and id, so a job's key
// follows from its verification's), found by a Query per shard; `due` is when the next
// attempt may start (a lease moves it forward). The expiry index names every verification
// by the hour of its delete_after, so a sweep finds what is due for deletion without a Scan.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/dynamodb_value.hpp"
#include "core/limits.hpp"
#include "core/send_rules.hpp"
#include "core/token_bucket.hpp"
#include "core/types.hpp"
#include "core/verification.hpp"
#include "store/store.hpp"

namespace otpd::store::dynamodb {

using aws::AttributeValue;
using aws::Item;

inline constexpr std::string_view kTtlAttribute = "expires_at_ttl";
inline constexpr int kQueueShards = 4;
inline constexpr int kExpiryShards = 4;
// The longest lists an aggregate keeps, whatever the policy: a send window holds at most
// max_sends (more only when the policy changed), and the failure budget is refused once spent.
inline constexpr std::size_t kMinKeptSends = 64;
inline constexpr std::size_t kMinKeptFailures = 128;

// Seconds since the epoch, rounded up: DynamoDB's TTL never deletes an item early.
long long ttl_of(core::TimePoint t);
// Whole hours since the epoch: the expiry index's buckets.
long long hour_of(core::TimePoint t);

// ---- keys ----------------------------------------------------------------------------

Item verification_key(const core::TenantId& tenant, const core::VerificationId& id);
Item recipient_key(const core::TenantId& tenant, const core::RecipientHash& recipient);
Item idempotency_key(const core::TenantId& tenant, const std::string& key);
Item bucket_key(const std::string& key);
Item counter_key(const std::string& key, const core::CounterWindow& window);
int shard_of(const core::TenantId& tenant, const core::VerificationId& id, int shards);
std::string job_partition(int shard);
Item job_key(const core::TenantId& tenant, const core::VerificationId& id);
std::string expiry_partition(long long hour, int shard);
Item expiry_key(core::TimePoint delete_after, const core::TenantId& tenant,
                const core::VerificationId& id);
// The sort key bound of everything in an expiry partition due at or before `t`.
std::string expiry_sort_bound(core::TimePoint t);
// An item that never exists: what ping reads.
Item ping_key();

// ---- versions ------------------------------------------------------------------------

// What a read found of one item, for the condition that commits only if it is unchanged.
struct Seen {
  bool exists = false;
  long long version = 0;  // `ver`

  long long next() const { return exists ? version + 1 : 1; }
};
Seen seen_of(const std::optional<Item>& item);
// "attribute_not_exists(pk)" or "ver = :seen" (adding :seen to `values`).
std::string unchanged(const Seen& seen, Item& values);

// ---- verifications -------------------------------------------------------------------

struct VerificationRecord {
  core::Verification verification;  // its delivery status from `dlv`
  long long version = 0;
  std::vector<core::TimePoint> failures;  // the recipient's, as of the last write
};

// A new verification item (version 1, delivery from the verification).
Item verification_item(const core::Verification& v, const std::vector<core::TimePoint>& failures);
// kCorrupt when the item is not one this store wrote.
Result<VerificationRecord> verification_of(const Item& item);

// ---- recipient aggregates ------------------------------------------------------------

struct SendRecord {
  core::TimePoint at;
  core::TimePoint until;  // the verification's delete_after
};

struct RecipientRecord {
  Seen seen;
  std::string newest_id;                     // "" when none
  std::optional<core::Verification> newest;  // as mirrored (its delivery status is not)
  long long newest_version = 0;              // the verification's `ver` it mirrors
  std::vector<SendRecord> sends;
  std::vector<core::TimePoint> failures;
};

Result<RecipientRecord> recipient_of(const std::optional<Item>& item);
// The whole item, version seen.next().
Item recipient_item(const core::TenantId& tenant, const core::RecipientHash& recipient,
                    const RecipientRecord& record);

// Events in (from, to], counted with the oldest.
core::WindowCount count_between(const std::vector<core::TimePoint>& times, core::TimePoint from,
                                core::TimePoint to);
// Sends in (now - window, now] whose verification is still kept at `now`.
core::WindowCount count_sends(const std::vector<SendRecord>& sends, core::Seconds window,
                              core::TimePoint now);
// What an aggregate keeps of its history at `now`: failures of the last hour and sends
// inside `window` still kept, each list cut to its newest `keep` entries.
std::vector<core::TimePoint> recent_failures(std::vector<core::TimePoint> failures,
                                             core::TimePoint now, std::size_t keep);
std::vector<SendRecord> recent_sends(std::vector<SendRecord> sends, core::Seconds window,
                                     core::TimePoint now, std::size_t keep);
// When an aggregate may go: nothing in it matters any more.
core::TimePoint recipient_expiry(const RecipientRecord& record);

// ---- idempotency records, buckets, counters ------------------------------------------

Result<std::optional<core::IdempotencyRecord>> idempotency_of(const std::optional<Item>& item);
Item idempotency_item(const core::TenantId& tenant, const std::string& key,
                      const core::IdempotencyRecord& record, long long version);

Result<std::optional<core::BucketState>> bucket_of(const std::optional<Item>& item,
                                                   core::TimePoint now);
Item bucket_item(const std::string& key, const core::TakeDecision& taken, long long version);

Result<long long> counter_of(const std::optional<Item>& item);
Item counter_item(const std::string& key, const core::CounterWindow& window, long long count,
                  long long version);

// ---- delivery jobs and the expiry index ----------------------------------------------

struct JobRecord {
  DeliveryJob job;
  core::TimePoint due;
  Item key;
};

Item job_item(const DeliveryJob& job, core::TimePoint due, core::TimePoint delete_after);
Result<JobRecord> job_of(const Item& item);

Item expiry_item(const core::Verification& v);
// The verification an expiry entry names; kCorrupt when it is not one.
Result<std::pair<core::TenantId, core::VerificationId>> expiry_target(const Item& item);

}  // namespace otpd::store::dynamodb
