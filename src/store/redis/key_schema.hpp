// Where the Redis store keeps each thing, and which keys share a hash slot.
//
// Recipients are spread over `groups` slot groups ({g0}..{g255} on a Cluster): a recipient's
// group is its placement byte (core/placement.hpp). A group holds the records of its
// recipients (in bucket hashes), its delivery queue, its delivery jobs and the id index of
// the ids that name the group, so the commit of a send (verification, send record, job,
// index entry) or of a check (attempt, failure) runs as one script on one slot, and an id
// that names its group is found and read with its record by one script too. The other keys
// an operation touches live in slots of their own: the shared id index (ids that name no
// group, or not their recipient's: {x0}..{x4095}), the idempotency records, the token
// buckets and the counters. On a standalone server every key shares one slot ({o}), so
// every commit is one script there, and every id is found with one.
//
// Layout (P = the configured prefix, default "otpd:"; <t> = tenant, \0 a zero byte):
//   P{gN}rM                hash: field <t>\0<recipient> -> RecipientRecord (records.hpp)
//   P{gN}q                 zset: member <t>\0<id>, score = when the job is next due (ms)
//   P{gN}j                 hash: field <t>\0<id> -> JobRecord (expires with its code)
//   P{gN}xM                hash: field <t>\0<id> -> IndexEntry (where the id's record is)
//   P{xN}                  hash: the same, for ids that name no group or another one
//   P{iH}<t>\0<key>        string: IdempotencyEntry, PEXPIREAT keep_until
//   P{bH}<key>             string: BucketEntry, PEXPIREAT when full again
//   P{cH}<key>\0<from>\0<to> string: the count (INCRBY), PEXPIREAT the window's end
//   P{o}schema             string: the layout version (init_schema)
// Recipients and ids are packed (bytes.hpp). With one slot, {o} replaces every tag and
// the tag's text follows it ("P{o}g0r17"); the index is then the shared one ("P{o}x17").
#pragma once

#include <cstdint>
#include <optional>
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
  static constexpr int kIndexBuckets = 4096;   // shared, and over all groups
  // 2: ids carry their group and are indexed in it; index entries name the record's key.
  static constexpr int kVersion = 2;

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
  // Where a send writes the index entry of `id`, whose recipient is `recipient`: the group's
  // index when the id names the recipient's group, else the shared one.
  Field index(const core::TenantId& tenant, const core::VerificationId& id,
              const core::RecipientHash& recipient) const;
  // Where a lookup by id looks first: the index of the group the id names (Cluster only);
  // nullopt when it names none.
  std::optional<Field> group_index(const core::TenantId& tenant,
                                   const core::VerificationId& id) const;
  // The group an id names: its placement byte on a Cluster, the only group on one slot;
  // nullopt for an id that names none. Its recipient's group, unless it was made elsewhere.
  std::optional<int> group_named_by(const core::VerificationId& id) const;
  // The shared index: where an id that names no group, or not its recipient's, is found.
  Field shared_index(const core::TenantId& tenant, const core::VerificationId& id) const;
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
  // The index of `group` (spread layout), where an id naming it is indexed.
  Field index_in(int group, const core::TenantId& tenant, const core::VerificationId& id) const;

  std::string prefix_;
  Layout layout_;
};

}  // namespace otpd::store::redis
