// The scaled-out backend: the Store port on Redis or Redis Cluster, for any number of
// stateless otpd instances sharing it.
//
// Every operation reads a snapshot (one read script per hash slot), asks core, and commits
// with a compare-and-set script that re-checks every value the decision read (byte for
// byte) and applies the writes; a commit that finds a value changed writes nothing, and
// the operation starts over from the read (at most kMaxAttempts times, with a jittered
// pause; then kUnavailable). No rule of otpd is in Lua: scripts.hpp.
//
// Where keys live and which share a slot: key_schema.hpp. On a standalone server every key
// shares one slot, so each commit is one atomic script, as an SQLite transaction is. On a
// Cluster, a recipient's record, its delivery jobs and its group's queue share a slot, and
// the tenant-wide keys (idempotency records, the send bucket, the counters) and the id
// index live elsewhere; `start` then runs in steps, in this order:
//   1. read everything (one script per slot, in parallel);
//   2. reserve: counters are incremented (INCRBY; a count past the limit refuses the send
//      and gives the increments back), and, in parallel, the idempotency key is claimed
//      with a short-lived pending record, the send bucket is compare-and-set, and a shared
//      index entry is written for an id that does not name its recipient's group;
//   3. commit the recipient's record with the verification, its send record, its job and
//      (for an id naming the group) its index entry;
//      if it changed meanwhile, step 2 is undone (the claim deleted, the bucket restored if
//      nobody took from it since, the counters given back) and the send starts over;
//   4. finish the idempotency record, and cancel a pending code stored under an older
//      secret's hash (another slot) the way a cancel would.
// What that guarantees on a Cluster: never more sends than a counter or a bucket allows;
// one send per idempotency key (a second request with the key waits for the first's
// outcome and replays it); a refused send leaves nothing but, for a moment, reserved
// counts (which can make a concurrent send at the very limit be refused: the error is
// always towards fewer sends). A verification is found by id through an index entry that
// names its record. An id otpd makes names its recipient's slot group (core/placement.hpp),
// so its entry is written by the recipient's commit and read with the record by one script:
// a check or transition by id is one read and one commit, as by recipient. Other ids (the
// Twilio form, which has no room for it) are indexed in a shared index, written before the
// commit (so an acknowledged send is always found), at one round trip more.
//
// Expiry is native: every key has a PEXPIREAT (a record: its last delete_after or an hour
// after its last failure; a job: its code's expiry; a counter: its window's end; a bucket:
// when it is full again; an idempotency record: keep_until), and the records inside a
// bucket hash carry their own expiry, which the scripts check as they write. Nothing needs
// a sweeper: sweep() returns 0.
//
// Every failure of Redis (unreachable, timed out, an error reply) is kUnavailable; a value
// that cannot be decoded is kCorrupt. Thread safety: every operation may be called from any
// thread, concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/redis/error.hpp"
#include "store/redis/key_schema.hpp"
#include "store/redis/records.hpp"
#include "store/redis/redis_io.hpp"
#include "store/store.hpp"

namespace otpd::store {

struct RedisStoreOptions {
  // I/O threads of the store's own (redis_io.hpp).
  int io_threads = 1;
  // Replaces the URL's key_prefix (tests give each test a prefix of its own).
  std::string key_prefix;
};

class RedisStore final : public Store {
 public:
  // Commits that found a value changed, and pending idempotency claims waited for, before
  // an operation gives up with kUnavailable.
  static constexpr int kMaxAttempts = 32;
  // How long a pending idempotency claim (Cluster) holds its key if its send never
  // finishes (the instance died between claim and commit).
  static constexpr core::Millis kPendingClaim{10'000};

  // The URL forms of redis/options.hpp. Fails (kInvalidArgument, with a message that names
  // no password) on a malformed URL or unusable TLS settings; connects lazily.
  static redis::Result<std::unique_ptr<RedisStore>> open(std::string_view url,
                                                         RedisStoreOptions options = {});
  ~RedisStore() override;

  Task<Result<StartOutcome>> start(StartRequest request) override;
  Task<Result<core::CheckDecision>> check(CheckRequest request) override;
  Task<Result<std::optional<core::Verification>>> get(core::TenantId tenant,
                                                      core::VerificationId id) override;
  Task<Result<core::TransitionDecision>> transition(TransitionRequest request) override;
  Task<Result<TokenOutcome>> take_token(core::TokenSpec spec, core::TimePoint now) override;
  Task<Result<std::vector<DeliveryJob>>> take_due(TakeRequest request) override;
  Task<Result<void>> finish(std::vector<FinishedDelivery> done) override;
  Task<Result<void>> retry(core::TenantId tenant, core::VerificationId id,
                           core::TimePoint next_attempt) override;
  Task<Result<std::size_t>> depth() override;
  // Writes the layout version; checks nothing else (the server needs no schema).
  Task<Result<void>> init_schema() override;
  // The server must be Redis 7.0 or later (or a compatible server saying so), never evict
  // (maxmemory-policy noeviction: an evicted key would forget a code, a limit or an
  // approval), and hold no layout version newer than this build's.
  Task<Result<std::optional<std::string>>> schema_problem() override;
  Task<Result<void>> ping() override;
  Task<Result<std::size_t>> sweep(core::TimePoint now, core::Seconds counter_horizon) override;

  const redis::KeySchema& schema() const { return schema_; }
  // Round trips made so far (redis_io.hpp): what an operation costs, for tests and docs.
  std::uint64_t round_trips() const { return io_->round_trips(); }

 private:
  RedisStore(std::unique_ptr<redis::RedisIo> io, redis::KeySchema schema);

  // A recipient's record as read: the raw value (what a commit must find unchanged) and
  // what it decodes to.
  struct Record {
    core::RecipientHash recipient;
    redis::KeySchema::Field where;
    std::optional<std::string> raw;
    redis::RecipientRecord value;
  };
  Task<Result<std::vector<Record>>> read_records(
      const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients);
  // The record an id's index entry names, read: nullopt when the id is unknown (the record
  // may still lack the verification, once it is pruned). One round trip when the id names
  // its group, and on a standalone server; on a Cluster, an id in the shared index takes
  // two (the entry, then the record in its own slot).
  Task<Result<std::optional<Record>>> locate(const core::TenantId& tenant,
                                             const core::VerificationId& id);
  // A record from an index entry and the value it names.
  Result<Record> located(const core::TenantId& tenant, std::string_view entry,
                         std::optional<std::string> value) const;
  // `first` (taken, so a retry reads afresh) when it holds a record, else the records of
  // `recipients` as read now.
  Task<Result<std::vector<Record>>> first_or_read(
      const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients,
      std::optional<Record>& first);
  // Adds to `batch` the guard that `record` is unchanged and the write of its new value
  // (or its deletion, once nothing in it matters any more).
  void rewrite(redis::CommitBatch& batch, const Record& record,
               const redis::RecipientRecord& next) const;
  // Drops the delivery job of `id` (of the recipient in `group`) in `batch`.
  void drop_job(redis::CommitBatch& batch, int group, const core::TenantId& tenant,
                const core::VerificationId& id) const;
  // Cancels `id` in the record of `recipient` if it is still pending (a supersede across
  // slots); true when it was canceled here.
  Task<Result<bool>> cancel_elsewhere(const core::TenantId& tenant,
                                      const core::RecipientHash& recipient,
                                      const core::VerificationId& id, core::TimePoint now);
  // Records `outcome` as the delivery of `id` (of `recipient`) and drops its job; `first`:
  // the recipient's record when it was just read.
  Task<Result<void>> end_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                                  const core::RecipientHash& recipient,
                                  core::DeliveryStatus outcome, std::optional<Record> first = {});

  // Counts a delivery attempt of `id` and queues the next one, if its job is in `group`.
  enum class Rescheduled { kDone, kNoJob };
  Task<Result<Rescheduled>> reschedule(int group, const core::TenantId& tenant,
                                       const core::VerificationId& id,
                                       core::TimePoint next_attempt);

  // One outcome of finish(): its verification found through the index, then ended.
  Task<Result<void>> finish_one(FinishedDelivery done);

  struct StartAttempt;
  Task<Result<std::optional<StartOutcome>>> try_start(const StartRequest& request, int attempt);

  std::unique_ptr<redis::RedisIo> io_;
  redis::KeySchema schema_;
};

}  // namespace otpd::store
