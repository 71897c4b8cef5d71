// RedisStore::start: one snapshot, core's decide_send, then one commit on a standalone
// server, or the steps of redis_store.hpp on a Cluster.
#include <algorithm>
#include <charconv>
#include <utility>

#include "store/redis/bytes.hpp"
#include "store/redis/redis_store.hpp"
#include "store/redis/slot.hpp"
#include "store/redis/store_support.hpp"

namespace otpd::store {

using core::TimePoint;
using core::Verification;
using redis::CommitBatch;
using redis::KeySchema;
using redis::RecipientRecord;

namespace {

// A failure after which a write may or may not have happened (a timeout, a lost
// connection): its reservations are left as they are rather than given back twice.
bool may_have_run(const redis::Error& error) { return error.code != redis::Errc::kUnavailable; }

// An error_code converts to bool too: Result<bool> must be told which it holds.
Result<bool> failed_bool(boost::system::error_code ec) {
  return Result<bool>(boost::system::in_place_error, ec);
}

long long parse_count(const std::optional<std::string>& raw) {
  long long n = 0;
  if (raw) std::from_chars(raw->data(), raw->data() + raw->size(), n);
  return n;
}

}  // namespace

// What one attempt has taken and must give back if it does not complete: counters
// incremented, and (Cluster) the writes of step 2, each with the batch that undoes it.
struct RedisStore::StartAttempt {
  std::vector<std::string> counters;
  std::vector<CommitBatch> undo;

  // Best effort: what cannot be given back now lapses with its key.
  Task<void> give_back(redis::RedisIo& io) {
    std::vector<CommitBatch> batches = std::move(undo);
    for (const auto& key : counters) {
      CommitBatch b;
      b.increment(key, -1, TimePoint{});
      batches.push_back(std::move(b));
    }
    counters.clear();
    if (!batches.empty()) co_await io.commit_all(std::move(batches));
  }
};

Task<Result<StartOutcome>> RedisStore::start(StartRequest request) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto outcome = co_await try_start(request, attempt);
    if (!outcome) co_return outcome.error();
    if (*outcome) co_return std::move(**outcome);
    co_await redis::pause_after_conflict(attempt);
  }
  co_return redis::unavailable();
}

Task<Result<std::optional<StartOutcome>>> RedisStore::try_start(const StartRequest& request, int) {
  using Retry = std::optional<StartOutcome>;
  const Verification& fresh = request.verification;
  const TimePoint now = fresh.created_at;
  const core::TenantId& tenant = fresh.tenant;
  const bool one_slot = schema_.layout() == KeySchema::Layout::kOneSlot;
  const bool rated = request.rate && request.rate->active();

  // ---- 1. the snapshot -------------------------------------------------------------
  // The recipient's record under each of its hashes (the one it is stored under first),
  // read once each however often the history names it.
  std::vector<core::RecipientHash> hashes;
  std::vector<std::size_t> history_record;
  std::vector<core::RecipientHash> history = request.history;
  if (std::find(history.begin(), history.end(), fresh.recipient) == history.end()) {
    history.insert(history.begin(), fresh.recipient);
  }
  for (const auto& h : history) {
    auto it = std::find(hashes.begin(), hashes.end(), h);
    history_record.push_back(static_cast<std::size_t>(it - hashes.begin()));
    if (it == hashes.end()) hashes.push_back(h);
  }
  std::vector<redis::RedisIo::Read> reads;
  std::vector<Record> records;
  for (const auto& h : hashes) {
    Record r;
    r.recipient = h;
    r.where = schema_.record(tenant, h);
    reads.push_back({r.where.key, r.where.field});
    records.push_back(std::move(r));
  }
  const std::string idempotency_key =
      request.idempotency ? schema_.idempotency(tenant, request.idempotency->key) : "";
  if (request.idempotency) reads.push_back({idempotency_key, ""});
  const std::string bucket_key = rated ? schema_.bucket(request.rate->key) : "";
  if (rated) reads.push_back({bucket_key, ""});
  std::vector<std::string> counter_keys(request.counters.size());
  std::vector<std::size_t> counter_read(request.counters.size(), 0);
  for (std::size_t i = 0; i < request.counters.size(); ++i) {
    const auto& c = request.counters[i];
    if (!c.active()) continue;
    counter_keys[i] = schema_.counter(c.key, core::counter_window(now, c.window));
    counter_read[i] = reads.size();
    reads.push_back({counter_keys[i], ""});
  }
  auto values = co_await io_->read(std::move(reads));
  if (!values) co_return redis::unavailable(values.error());
  std::size_t next_value = 0;
  for (auto& r : records) {
    r.raw = std::move((*values)[next_value++]);
    if (!r.raw) continue;
    auto decoded = redis::decode_record(*r.raw, tenant, r.recipient);
    if (!decoded) co_return decoded.error();
    r.value = std::move(*decoded);
  }
  std::optional<std::string> idempotency_raw;
  std::optional<redis::IdempotencyEntry> claim;
  if (request.idempotency) {
    idempotency_raw = std::move((*values)[next_value++]);
    if (idempotency_raw) {
      auto decoded = redis::decode_idempotency(*idempotency_raw, tenant);
      if (!decoded) co_return decoded.error();
      claim = std::move(*decoded);
    }
  }
  std::optional<std::string> bucket_raw;
  core::SendSnapshot snapshot;
  if (rated) {
    bucket_raw = std::move((*values)[next_value++]);
    if (bucket_raw) {
      auto decoded = redis::decode_bucket(*bucket_raw);
      if (!decoded) co_return decoded.error();
      snapshot.bucket = *decoded;
    }
  }

  // A claim still pending (Cluster) belongs to a send on its way to its commit. Ours (left
  // by an earlier attempt) is no claim; another's holds this send back until it is
  // finished, unless its verification is stored already: then it is finished here.
  if (claim && claim->pending) {
    if (claim->record.first.id == fresh.id) {
      claim.reset();
    } else {
      const auto& first = claim->record.first;
      std::vector<core::RecipientHash> one{first.recipient};
      auto theirs = co_await read_records(tenant, one);
      if (!theirs) co_return theirs.error();
      if (theirs->front().value.find(first.id) == nullptr) co_return Retry();
      claim->pending = false;
      CommitBatch finish;
      finish.expect(idempotency_key, "", idempotency_raw);
      finish.set(idempotency_key, redis::encode_idempotency(*claim, claim->record.keep_until),
                 claim->record.keep_until);
      co_await io_->commit(std::move(finish));
    }
  }
  if (claim) snapshot.idempotency = claim->record;

  const Verification* newest = nullptr;
  std::size_t newest_record = 0;
  for (std::size_t j = 0; j < history.size(); ++j) {
    const auto& value = records[history_record[j]].value;
    const Verification* v = value.newest();
    if (v != nullptr && (newest == nullptr || v->created_at > newest->created_at)) {
      newest = v;
      newest_record = history_record[j];
    }
    snapshot.sends.merge(value.sends_in(now - request.rules.send_window, now));
    snapshot.failures.merge(value.failures_in(now));
  }
  if (newest != nullptr) snapshot.newest = *newest;
  for (std::size_t i = 0; i < request.counters.size(); ++i) {
    snapshot.counters.push_back(
        request.counters[i].active() ? parse_count((*values)[counter_read[i]]) : 0);
  }

  StartOutcome out;
  out.decision = core::decide_send(snapshot, request.rules, request.idempotency, request.rate,
                                   request.counters, now);
  if (out.decision.verdict == core::SendVerdict::kReplay) {
    out.verification = snapshot.idempotency->first;
  }
  if (out.decision.verdict != core::SendVerdict::kStart) co_return out;

  // ---- 2. counters: incremented first, so that concurrent sends see each other -------
  StartAttempt taken;
  if (!out.decision.counted.empty()) {
    std::vector<CommitBatch> increments;
    for (std::size_t i : out.decision.counted) {
      CommitBatch b;
      const auto window = core::counter_window(now, request.counters[i].window);
      b.increment(counter_keys[i], 1, core::from_unix_ms(window.end_ms));
      increments.push_back(std::move(b));
    }
    auto results = co_await io_->commit_all(std::move(increments));
    std::optional<redis::Error> failed;
    for (std::size_t k = 0; k < results.size(); ++k) {
      const std::size_t i = out.decision.counted[k];
      if (!results[k]) {
        // Not given back: either it did not run, or it may have (then it stays counted).
        failed = results[k].error();
        continue;
      }
      taken.counters.push_back(counter_keys[i]);
      // The count before this send's own increment.
      snapshot.counters[i] = results[k]->results.front() - 1;
    }
    if (failed) {
      co_await taken.give_back(*io_);
      co_return redis::unavailable(*failed);
    }
    out.decision = core::decide_send(snapshot, request.rules, request.idempotency, request.rate,
                                     request.counters, now);
    if (out.decision.verdict != core::SendVerdict::kStart) {
      co_await taken.give_back(*io_);
      co_return out;
    }
  }

  // ---- what the send writes --------------------------------------------------------
  Verification stored = fresh;
  stored.status = core::Status::kPending;
  stored.attempts = 0;
  stored.approved_at.reset();
  stored.delivery = core::DeliveryStatus::kQueued;
  stored.resend_at = out.decision.resend_at;

  Record& own = records[history_record[std::find(history.begin(), history.end(), fresh.recipient) -
                                       history.begin()]];
  const int group = schema_.group_of(tenant, fresh.recipient);
  const auto own_slot = redis::key_slot(own.where.key);
  Record* superseded = out.decision.supersede ? &records[newest_record] : nullptr;
  const bool supersede_here =
      superseded != nullptr && redis::key_slot(superseded->where.key) == own_slot;

  CommitBatch commit;
  for (auto& r : records) {
    const bool is_own = &r == &own;
    const bool is_superseded = supersede_here && &r == superseded;
    if (!is_own && !is_superseded) {
      if (redis::key_slot(r.where.key) == own_slot)
        commit.expect(r.where.key, r.where.field, r.raw);
      continue;
    }
    RecipientRecord next = r.value;
    if (is_superseded) {
      next.find(snapshot.newest->id)->status = core::Status::kCanceled;
      drop_job(commit, schema_.group_of(tenant, r.recipient), tenant, snapshot.newest->id);
    }
    if (is_own) next.verifications.push_back(stored);
    next.prune(now);
    rewrite(commit, r, next);
  }
  redis::JobRecord job{stored.channel, 0, stored.expires_at, stored.recipient,
                       request.sealed_delivery};
  const auto job_at = schema_.job(group, tenant, stored.id);
  commit.set_field(job_at.key, job_at.field, redis::encode_job(job), stored.expires_at);
  commit.enqueue(schema_.queue(group), KeySchema::member(tenant, stored.id),
                 request.delivery_leased_until.value_or(now), stored.expires_at);

  // The id's index entry: with the record when the id names the recipient's group (or on
  // one slot), so the commit below writes it; else in the shared index, reserved in step 2.
  const auto index = schema_.index(tenant, stored.id, stored.recipient);
  const std::string index_value =
      redis::encode_index(own.where.key, stored.recipient, stored.delete_after);
  const bool index_with_record = redis::key_slot(index.key) == own_slot;
  if (index_with_record) commit.set_field(index.key, index.field, index_value, stored.delete_after);
  std::string bucket_value;
  if (out.decision.token) bucket_value = redis::encode_bucket(*out.decision.token);
  redis::IdempotencyEntry entry;
  if (request.idempotency) {
    entry.record = core::IdempotencyRecord{request.idempotency->request_hash, stored,
                                           request.idempotency->keep_until};
  }
  const std::string final_claim =
      request.idempotency ? redis::encode_idempotency(entry, entry.record.keep_until) : "";

  if (one_slot) {
    // ---- 3. one commit: the whole send, as one transaction would be ----------------
    if (out.decision.token) {
      commit.expect(bucket_key, "", bucket_raw);
      commit.set(bucket_key, bucket_value, out.decision.token->full_at);
    }
    if (request.idempotency) {
      commit.expect(idempotency_key, "", idempotency_raw);
      commit.set(idempotency_key, final_claim, entry.record.keep_until);
    }
    auto committed = co_await io_->commit(std::move(commit));
    if (!committed) {
      if (!may_have_run(committed.error())) co_await taken.give_back(*io_);
      co_return redis::unavailable(committed.error());
    }
    if (!committed->applied) {
      co_await taken.give_back(*io_);
      co_return Retry();
    }
    out.verification = std::move(stored);
    if (superseded != nullptr) out.superseded = snapshot.newest->id;
    co_return out;
  }

  // ---- 2 (Cluster). the other reservations, each on its own slot, at once ----------
  std::string pending_claim;
  {
    std::vector<CommitBatch> reserve;
    std::vector<CommitBatch> undo;
    if (request.idempotency) {
      redis::IdempotencyEntry pending = entry;
      pending.pending = true;
      pending_claim = redis::encode_idempotency(pending, now + kPendingClaim);
      CommitBatch b;
      b.expect(idempotency_key, "", idempotency_raw);
      b.set(idempotency_key, pending_claim, now + kPendingClaim);
      reserve.push_back(std::move(b));
      CommitBatch u;
      u.expect(idempotency_key, "", pending_claim);
      u.del(idempotency_key);
      undo.push_back(std::move(u));
    }
    if (out.decision.token) {
      CommitBatch b;
      b.expect(bucket_key, "", bucket_raw);
      b.set(bucket_key, bucket_value, out.decision.token->full_at);
      reserve.push_back(std::move(b));
      // Given back only if nobody took a token since: else it stays taken (fewer sends).
      CommitBatch u;
      u.expect(bucket_key, "", bucket_value);
      if (bucket_raw) {
        u.set(bucket_key, *bucket_raw,
              core::from_unix_ms(redis::expiry_of(*bucket_raw).value_or(0)));
      } else {
        u.del(bucket_key);
      }
      undo.push_back(std::move(u));
    }
    if (!index_with_record) {
      CommitBatch b;
      b.set_field(index.key, index.field, index_value, stored.delete_after);
      reserve.push_back(std::move(b));
      CommitBatch u;
      u.del_field(index.key, index.field);
      undo.push_back(std::move(u));
    }
    // Nothing to reserve (no key, no bucket, an id indexed with its record): no round trip.
    std::vector<redis::Result<redis::RedisIo::Committed>> results;
    if (!reserve.empty()) results = co_await io_->commit_all(std::move(reserve));
    bool conflict = false;
    std::optional<redis::Error> failed;
    for (std::size_t k = 0; k < results.size(); ++k) {
      if (!results[k]) {
        failed = results[k].error();
        if (may_have_run(results[k].error())) taken.undo.push_back(std::move(undo[k]));
      } else if (results[k]->applied) {
        taken.undo.push_back(std::move(undo[k]));
      } else {
        conflict = true;
      }
    }
    if (failed || conflict) {
      co_await taken.give_back(*io_);
      if (failed) co_return redis::unavailable(*failed);
      co_return Retry();
    }
  }

  // ---- 3 (Cluster). the recipient's commit -----------------------------------------
  auto committed = co_await io_->commit(std::move(commit));
  if (!committed) {
    if (!may_have_run(committed.error())) co_await taken.give_back(*io_);
    co_return redis::unavailable(committed.error());
  }
  if (!committed->applied) {
    co_await taken.give_back(*io_);
    co_return Retry();
  }

  // ---- 4 (Cluster). what follows the commit ----------------------------------------
  // The claim becomes the record (if this fails, the next request with the key finds the
  // verification stored and finishes it); a pending code under another slot's hash is
  // canceled as a cancel would (if this fails, it stays usable until it expires).
  if (request.idempotency) {
    CommitBatch finish;
    finish.expect(idempotency_key, "", pending_claim);
    finish.set(idempotency_key, final_claim, entry.record.keep_until);
    co_await io_->commit(std::move(finish));
  }
  out.verification = std::move(stored);
  if (superseded != nullptr) {
    if (supersede_here) {
      out.superseded = snapshot.newest->id;
    } else {
      auto canceled =
          co_await cancel_elsewhere(tenant, superseded->recipient, snapshot.newest->id, now);
      if (canceled && *canceled) out.superseded = snapshot.newest->id;
    }
  }
  co_return out;
}

Task<Result<bool>> RedisStore::cancel_elsewhere(const core::TenantId& tenant,
                                                const core::RecipientHash& recipient,
                                                const core::VerificationId& id, TimePoint now) {
  const std::vector<core::RecipientHash> one{recipient};
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto records = co_await read_records(tenant, one);
    if (!records) co_return failed_bool(records.error());
    Record& record = records->front();
    const Verification* v = record.value.find(id);
    auto decision = core::decide_transition(
        core::Transition::kCancel, v ? std::optional<Verification>(*v) : std::nullopt, now);
    if (decision.verdict != core::TransitionVerdict::kDone) co_return false;
    RecipientRecord next = record.value;
    *next.find(id) = *decision.after;
    next.prune(now);
    CommitBatch batch;
    rewrite(batch, record, next);
    drop_job(batch, schema_.group_of(tenant, recipient), tenant, id);
    auto committed = co_await io_->commit(std::move(batch));
    if (!committed) co_return failed_bool(redis::unavailable());
    if (committed->applied) co_return true;
    co_await redis::pause_after_conflict(attempt);
  }
  co_return failed_bool(redis::unavailable());
}

}  // namespace otpd::store
