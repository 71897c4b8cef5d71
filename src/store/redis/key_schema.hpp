// Where the Redis store keeps each thing, and which keys share a hash slot.
//
// Recipients are spread over `groups` slot groups ({g0}..{g255} on a Cluster). A group holds
// the records of its recipients (in bucket hashes), its delivery queue and its delivery
// jobs, so the commit of a send (verification, send record, job) or of a check (attempt,
// failure) runs as one script on one slot. The other keys an operation touches live in
// slots of their own: the id index (a verification found by id alone, {x0}..{x4095}), the
// idempotency records, the token buckets and the counters. On a standalone server every
// key shares one slot ({o}), so every commit is one script there.
//
// Layout (P = the configured prefix, default "otpd:"; <t> = tenant, \0 a zero byte):
//   P{gN}rM                hash: field <t>\0<recipient> -> RecipientRecord (records.hpp)
//   P{gN}q                 zset: member <t>\0<id>, score = when the job is next due (ms)
//   P{gN}j                 hash: field <t>\0<id> -> JobRecord (expires with its code)
//   P{xN}                  hash: field <t>\0<id> -> IndexEntry (the recipient of an id)
//   P{iH}<t>\0<key>        string: IdempotencyEntry, PEXPIREAT keep_until
//   P{bH}<key>             string: BucketEntry, PEXPIREAT when full again
//   P{cH}<key>\0<from>\0<to> string: the count (INCRBY), PEXPIREAT the window's end
//   P{o}schema             string: the layout version (init_schema)
// Recipients and ids are packed (bytes.hpp). With one slot, {o} replaces every tag and
// the tag's text follows it ("P{o}g0r17").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/limits.hpp"
#include "core/types.hpp"

namespace otpd::store::redis {

class KeySchema {
 public:
  enum class Layout { kOneSlot, kSpread };
  // Spread: how many slot groups recipients fall in. Fixed: changing it would move every
  // recipient's record (and forget its limits).
  static constexpr int kSpreadGroups = 256;
  static constexpr int kRecordBuckets = 4096;  // over all groups
  static constexpr int kIndexBuckets = 4096;
  static constexpr int kVersion = 1;

  // `prefix` must not contain '{', '}' or glob characters (checked by the store's options).
  KeySchema(std::string prefix, Layout layout);

  struct Field {
    std::string key;
    std::string field;
  };

  Layout layout() const { return layout_; }
  int groups() const { return layout_ == Layout::kOneSlot ? 1 : kSpreadGroups; }
  const std::string& prefix() const { return prefix_; }

  int group_of(const core::TenantId& tenant, const core::RecipientHash& recipient) const;
  Field record(const core::TenantId& tenant, const core::RecipientHash& recipient) const;
  std::string queue(int group) const;
  std::string jobs(int group) const;
  Field job(int group, const core::TenantId& tenant, const core::VerificationId& id) const;
  Field index(const core::TenantId& tenant, const core::VerificationId& id) const;
  std::string idempotency(const core::TenantId& tenant, std::string_view key) const;
  std::string bucket(std::string_view key) const;
  std::string counter(std::string_view key, const core::CounterWindow& window) const;
  std::string schema() const;

  // A queue member: <tenant>\0<packed id>; parse_member fails on anything else.
  static std::string member(const core::TenantId& tenant, const core::VerificationId& id);
  static bool parse_member(std::string_view member, core::TenantId& tenant,
                           core::VerificationId& id);

 private:
  std::string key(std::string_view tag, std::string_view rest) const;

  std::string prefix_;
  Layout layout_;
};

}  // namespace otpd::store::redis
