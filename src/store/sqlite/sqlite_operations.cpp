// The SQLite backend's operations on one connection: snapshot reads, core's decision, and
// the writes that commit it.
#include "store/sqlite/sqlite_operations.hpp"

#include <algorithm>
#include <span>
#include <string>
#include <utility>

#include "core/typed_code.hpp"
#include "store/record_codec.hpp"

namespace otpd::store::sqlite {

using core::DeliveryStatus;
using core::Seconds;
using core::Status;
using core::TimePoint;
using core::Verification;

namespace {

Result<Verification> read_verification(const Statement& st) {
  Verification v;
  v.tenant = core::TenantId(st.text(0));
  v.id = core::VerificationId(st.text(1));
  v.recipient = core::RecipientHash(st.text(2));
  v.masked_to = st.text(3);
  const bool enums_ok = core::parse_channel(st.text(4), v.channel) &&
                        core::parse_alphabet(st.text(5), v.alphabet) &&
                        core::parse_status(st.text(8), v.status) &&
                        core::parse_delivery_status(st.text(16), v.delivery);
  if (!enums_ok) return make_error(StoreErrc::kCorrupt);
  v.code_length = static_cast<int>(st.int64(6));
  v.code_hash = st.text(7);
  v.attempts = static_cast<int>(st.int64(9));
  v.max_attempts = static_cast<int>(st.int64(10));
  v.created_at = st.time(11);
  v.expires_at = st.time(12);
  v.resend_at = st.time(13);
  if (!st.is_null(14)) v.approved_at = st.time(14);
  v.delete_after = st.time(15);
  v.locale = st.text(17);
  v.metadata_json = st.text(18);
  return v;
}

// One row of a (count, oldest) query over a window of events.
Result<core::WindowCount> read_window(Statement& st) {
  auto row = st.step();
  if (!row) return row.error();
  if (!*row) return make_error(StoreErrc::kCorrupt);
  core::WindowCount w;
  w.count = st.int64(0);
  if (!st.is_null(1)) w.oldest = st.time(1);
  return w;
}

// The first row of a verification query whose two parameters are tenant and `key`.
Result<std::optional<Verification>> first_verification(Result<Statement> st,
                                                       const std::string& tenant,
                                                       const std::string& key) {
  if (!st) return st.error();
  st->bind(1, tenant).bind(2, key);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Verification>();
  auto v = read_verification(*st);
  if (!v) return v.error();
  return std::optional<Verification>(std::move(*v));
}
Result<std::optional<Verification>> select_newest(Connection& db, const core::TenantId& tenant,
                                                  const core::RecipientHash& recipient) {
  return first_verification(db.statement(Sql::kSelectNewest), tenant.str(), recipient.str());
}

// The newest of a recipient under any of its hashes.
Result<std::optional<Verification>> select_newest_of(
    Connection& db, const core::TenantId& tenant,
    const std::vector<core::RecipientHash>& recipients) {
  std::optional<Verification> best;
  for (const auto& recipient : recipients) {
    auto found = select_newest(db, tenant, recipient);
    if (!found) return found.error();
    if (*found && (!best || (*found)->created_at > best->created_at)) best = std::move(*found);
  }
  return best;
}

// Events in (from, to] of a (count, oldest) query over each of the recipient's hashes.
Result<core::WindowCount> count_window(Connection& db, Sql query, const core::TenantId& tenant,
                                       std::span<const core::RecipientHash> recipients,
                                       TimePoint from, TimePoint to) {
  core::WindowCount total;
  for (const auto& recipient : recipients) {
    auto st = db.statement(query);
    if (!st) return st.error();
    st->bind(1, tenant.str()).bind(2, recipient.str()).bind(3, from).bind(4, to);
    auto part = read_window(*st);
    if (!part) return part.error();
    total.merge(*part);
  }
  return total;
}

Result<std::optional<core::IdempotencyRecord>> select_idempotency(Connection& db,
                                                                  const core::TenantId& tenant,
                                                                  const std::string& key) {
  auto st = db.statement(Sql::kSelectIdempotency);
  if (!st) return st.error();
  st->bind(1, tenant.str()).bind(2, key);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<core::IdempotencyRecord>();
  auto first = decode_verification(st->text(3));
  if (!first) return first.error();
  return std::optional<core::IdempotencyRecord>(
      core::IdempotencyRecord{st->text(0), std::move(*first), st->time(4)});
}

Result<std::optional<core::BucketState>> select_bucket(Connection& db, const std::string& key) {
  auto st = db.statement(Sql::kSelectBucket);
  if (!st) return st.error();
  st->bind(1, key);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<core::BucketState>();
  return std::optional<core::BucketState>(core::BucketState{st->real(0), st->time(1)});
}

Result<void> store_bucket(Connection& db, const std::string& key, const core::TakeDecision& taken) {
  auto st = db.statement(Sql::kStoreBucket);
  if (!st) return st.error();
  st->bind(1, key)
      .bind_real(2, taken.next.tokens)
      .bind(3, taken.next.updated_at)
      .bind(4, taken.full_at);
  return st->run();
}

// With its delivery job: `sealed`, due at `next_attempt_at`.
Result<void> insert_verification(Connection& db, const Verification& v, const std::string& sealed,
                                 TimePoint next_attempt_at) {
  auto insert = db.statement(Sql::kInsertVerification);
  if (!insert) return insert.error();
  insert->bind(1, v.tenant.str())
      .bind(2, v.id.str())
      .bind(3, v.recipient.str())
      .bind(4, v.masked_to)
      .bind(5, core::to_string(v.channel))
      .bind(6, core::to_string(v.alphabet))
      .bind(7, static_cast<long long>(v.code_length))
      .bind(8, v.code_hash)
      .bind(9, core::to_string(v.status))
      .bind(10, static_cast<long long>(v.attempts))
      .bind(11, static_cast<long long>(v.max_attempts))
      .bind(12, v.created_at)
      .bind(13, v.expires_at)
      .bind(14, v.resend_at)
      .bind(15, v.approved_at)
      .bind(16, v.delete_after)
      .bind(17, core::to_string(v.delivery))
      .bind(18, v.locale)
      .bind(19, v.metadata_json)
      .bind_blob(20, sealed)
      .bind(21, next_attempt_at);
  return insert->run();
}

Result<void> update_state(Connection& db, const Verification& v) {
  auto st = db.statement(Sql::kUpdateState);
  if (!st) return st.error();
  st->bind(1, v.tenant.str())
      .bind(2, v.id.str())
      .bind(3, core::to_string(v.status))
      .bind(4, static_cast<long long>(v.attempts))
      .bind(5, v.approved_at);
  return st->run();
}

Result<void> delete_delivery(Connection& db, const core::TenantId& tenant,
                             const core::VerificationId& id) {
  auto st = db.statement(Sql::kDeleteDelivery);
  if (!st) return st.error();
  st->bind(1, tenant.str()).bind(2, id.str());
  return st->run();
}

Result<void> record_delivery_outcome(Connection& db, const core::TenantId& tenant,
                                     const core::VerificationId& id, DeliveryStatus outcome) {
  auto st = db.statement(Sql::kSetDelivery);
  if (!st) return st.error();
  st->bind(1, tenant.str()).bind(2, id.str()).bind(3, core::to_string(outcome));
  return st->run();
}

}  // namespace

// ---- reads ---------------------------------------------------------------------------

Result<std::optional<Verification>> select_verification(Connection& db,
                                                        const core::TenantId& tenant,
                                                        const core::VerificationId& id) {
  return first_verification(db.statement(Sql::kSelectVerification), tenant.str(), id.str());
}

Result<core::CheckSnapshot> check_snapshot(Connection& db, const CheckRequest& request) {
  core::CheckSnapshot out;
  Result<std::optional<Verification>> found =
      request.id ? select_verification(db, request.tenant, *request.id)
                 : select_newest_of(db, request.tenant, request.recipients);
  if (!found) return found.error();
  if (!*found) return out;
  const std::span<const core::RecipientHash> own(&(*found)->recipient, 1);
  auto failures = count_window(db, Sql::kFailuresInWindow, request.tenant,
                               request.id ? own : std::span(request.recipients),
                               request.now - core::kFailureBudgetWindow, request.now);
  if (!failures) return failures.error();
  out.verification = std::move(*found);
  out.failures = *failures;
  return out;
}

Result<std::size_t> delivery_depth(Connection& db) {
  auto st = db.statement(Sql::kDeliveryDepth);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(StoreErrc::kCorrupt);
  return static_cast<std::size_t>(st->int64(0));
}

Result<void> ping(Connection& db) {
  auto st = db.statement(Sql::kPing);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return {};
}

// ---- writes --------------------------------------------------------------------------

Result<StartOutcome> start(Connection& db, const StartRequest& request) {
  const Verification& fresh = request.verification;
  const TimePoint now = fresh.created_at;

  core::SendSnapshot snapshot;
  if (request.idempotency) {
    auto record = select_idempotency(db, fresh.tenant, request.idempotency->key);
    if (!record) return record.error();
    snapshot.idempotency = std::move(*record);
  }
  if (request.rate && request.rate->active()) {
    auto bucket = select_bucket(db, request.rate->key);
    if (!bucket) return bucket.error();
    snapshot.bucket = *bucket;
  }
  auto newest = select_newest_of(db, fresh.tenant, request.history);
  if (!newest) return newest.error();
  snapshot.newest = std::move(*newest);
  auto sends = count_window(db, Sql::kSendsInWindow, fresh.tenant, request.history,
                            now - request.rules.send_window, now);
  if (!sends) return sends.error();
  snapshot.sends = *sends;
  auto failures = count_window(db, Sql::kFailuresInWindow, fresh.tenant, request.history,
                               now - core::kFailureBudgetWindow, now);
  if (!failures) return failures.error();
  snapshot.failures = *failures;
  for (const auto& counter : request.counters) {
    long long count = 0;
    if (counter.active()) {
      const auto w = core::counter_window(now, counter.window);
      auto st = db.statement(Sql::kSelectCounter);
      if (!st) return st.error();
      st->bind(1, counter.key).bind(2, w.start_ms).bind(3, w.end_ms);
      auto row = st->step();
      if (!row) return row.error();
      if (*row) count = st->int64(0);
    }
    snapshot.counters.push_back(count);
  }

  StartOutcome out;
  out.decision = core::decide_send(snapshot, request.rules, request.idempotency, request.rate,
                                   request.counters, now);
  if (out.decision.verdict == core::SendVerdict::kReplay) {
    out.verification = snapshot.idempotency->first;
  }
  if (out.decision.verdict != core::SendVerdict::kStart) return out;

  if (out.decision.supersede) {
    Verification previous = std::move(*snapshot.newest);
    previous.status = Status::kCanceled;
    if (auto r = update_state(db, previous); !r) return r.error();
    if (auto r = delete_delivery(db, previous.tenant, previous.id); !r) return r.error();
    out.superseded = previous.id;
  }

  Verification stored = fresh;
  stored.status = Status::kPending;
  stored.attempts = 0;
  stored.approved_at.reset();
  stored.delivery = DeliveryStatus::kQueued;
  stored.resend_at = out.decision.resend_at;
  // The verification is its own send record and carries its delivery job (schema v5): one
  // row, where v4 wrote three rows in three tables.
  if (auto r = insert_verification(db, stored, request.sealed_delivery,
                                   request.delivery_leased_until.value_or(now));
      !r) {
    return r.error();
  }

  for (std::size_t i : out.decision.counted) {
    const auto w = core::counter_window(now, request.counters[i].window);
    auto st = db.statement(Sql::kIncrementCounter);
    if (!st) return st.error();
    st->bind(1, request.counters[i].key).bind(2, w.start_ms).bind(3, w.end_ms);
    if (auto r = st->run(); !r) return r.error();
  }
  if (out.decision.token) {
    if (auto r = store_bucket(db, request.rate->key, *out.decision.token); !r) return r.error();
  }
  if (request.idempotency) {
    auto st = db.statement(Sql::kPutIdempotency);
    if (!st) return st.error();
    st->bind(1, stored.tenant.str())
        .bind(2, request.idempotency->key)
        .bind(3, request.idempotency->request_hash)
        .bind(4, encode_verification(stored))
        .bind(5, request.idempotency->keep_until);
    if (auto r = st->run(); !r) return r.error();
  }

  out.verification = std::move(stored);
  return out;
}

namespace {

// Decides a check on a snapshot just read and writes what the decision changed.
Result<core::CheckDecision> decide_and_commit_check(Connection& db, const CheckRequest& request,
                                                    core::CheckSnapshot snapshot,
                                                    core::CodeMatch match) {
  core::CheckDecision decision =
      core::decide_check(std::move(snapshot), match, request.failures_per_hour, request.now);
  if (decision.write) {
    if (auto r = update_state(db, *decision.after); !r) return r.error();
  }
  if (decision.record_failure) {
    auto failure = db.statement(Sql::kInsertFailure);
    if (!failure) return failure.error();
    failure->bind(1, request.tenant.str())
        .bind(2, decision.after->recipient.str())
        .bind(3, request.now);
    if (auto r = failure->run(); !r) return r.error();
  }
  return decision;
}

}  // namespace

Result<CheckCommit> commit_check(Connection& db, const CheckRequest& request,
                                 const core::VerificationId& expected, core::CodeMatch match) {
  CheckCommit out;
  auto now = check_snapshot(db, request);
  if (!now) return now.error();
  // A lookup by recipient may find a newer verification by now: the caller matches again.
  if (now->verification && now->verification->id != expected) {
    out.raced = std::move(*now);
    return out;
  }
  auto decision = decide_and_commit_check(db, request, std::move(*now), match);
  if (!decision) return decision.error();
  out.decision = std::move(*decision);
  return out;
}

Result<core::CheckDecision> check_typed(Connection& db, const CheckRequest& request) {
  auto now = check_snapshot(db, request);
  if (!now) return now.error();
  if (!now->verification) return core::CheckDecision{};
  const core::CodeMatch match = core::match_typed_code(*request.typed, *now->verification);
  return decide_and_commit_check(db, request, std::move(*now), match);
}

Result<core::TransitionDecision> transition(Connection& db, const TransitionRequest& request) {
  auto found = select_verification(db, request.tenant, request.id);
  if (!found) return found.error();
  core::TransitionDecision decision =
      core::decide_transition(request.transition, *found, request.now);
  if (decision.verdict != core::TransitionVerdict::kDone) return decision;
  if (auto r = update_state(db, *decision.after); !r) return r.error();
  if (request.transition == core::Transition::kCancel) {
    if (auto r = delete_delivery(db, request.tenant, request.id); !r) return r.error();
  }
  return decision;
}

Result<TokenOutcome> take_token(Connection& db, const core::TokenSpec& spec, TimePoint now) {
  auto stored = select_bucket(db, spec.key);
  if (!stored) return stored.error();
  const core::TakeDecision decision = core::take_token(spec, *stored, now);
  if (decision.allowed) {
    if (auto r = store_bucket(db, spec.key, decision); !r) return r.error();
  }
  return TokenOutcome{decision.allowed, decision.retry_after};
}

Result<std::vector<DeliveryJob>> take_due(Connection& db, const TakeRequest& request) {
  const TimePoint now = request.now;
  std::vector<DeliveryJob> due;
  std::vector<DeliveryJob> dead;
  {
    // Read fully before writing: updating rows under an open cursor over the same index
    // may make it visit a row twice or skip one. Rows are read only as far as needed.
    auto st = db.statement(Sql::kSelectDue);
    if (!st) return st.error();
    st->bind(1, now);
    while (due.size() < request.max) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      DeliveryJob job;
      job.tenant = core::TenantId(st->text(0));
      job.id = core::VerificationId(st->text(1));
      if (!core::parse_channel(st->text(2), job.channel)) return make_error(StoreErrc::kCorrupt);
      job.sealed = st->blob(3);
      job.attempts = static_cast<int>(st->int64(4));
      job.expires_at = st->time(5);
      if (job.expires_at <= now) {
        dead.push_back(std::move(job));  // the code is dead: delivering it would only confuse
      } else if (std::find(request.skip_tenants.begin(), request.skip_tenants.end(), job.tenant) ==
                 request.skip_tenants.end()) {
        due.push_back(std::move(job));
      }
    }
  }
  for (const auto& job : dead) {
    if (auto r = record_delivery_outcome(db, job.tenant, job.id, DeliveryStatus::kFailed); !r) {
      return r.error();
    }
  }
  for (const auto& job : due) {
    auto st = db.statement(Sql::kLeaseDelivery);
    if (!st) return st.error();
    st->bind(1, job.tenant.str()).bind(2, job.id.str()).bind(3, request.lease_until);
    if (auto r = st->run(); !r) return r.error();
  }
  return due;
}

Result<void> finish(Connection& db, const std::vector<FinishedDelivery>& done) {
  for (const auto& d : done) {
    if (auto r = record_delivery_outcome(db, d.tenant, d.id, d.outcome); !r) return r;
  }
  return {};
}

Result<void> retry(Connection& db, const core::TenantId& tenant, const core::VerificationId& id,
                   TimePoint next_attempt) {
  auto st = db.statement(Sql::kRetryDelivery);
  if (!st) return st.error();
  st->bind(1, tenant.str()).bind(2, id.str()).bind(3, next_attempt);
  return st->run();
}

Result<SweepSlice> sweep_slice(Connection& db, TimePoint now, Seconds counter_horizon,
                               std::size_t limit) {
  SweepSlice out;
  const TimePoint horizon = now - counter_horizon;
  // Jobs of expired codes first: a delivery still queued is marked failed before its
  // verification may go.
  const std::pair<Sql, TimePoint> steps[] = {
      {Sql::kFailExpiredDeliveries, now}, {Sql::kSweepVerifications, now},
      {Sql::kSweepIdempotency, now},      {Sql::kSweepFailures, horizon},
      {Sql::kSweepCounters, now},         {Sql::kSweepBuckets, now},
  };
  for (const auto& [sql, at] : steps) {
    auto st = db.statement(sql);
    if (!st) return st.error();
    st->bind(1, at).bind(2, static_cast<long long>(limit));
    if (auto r = st->run(); !r) return r.error();
    const auto changed = static_cast<std::size_t>(db.changes());
    if (changed >= limit) out.more = true;
    if (sql != Sql::kFailExpiredDeliveries) out.deleted += changed;
  }
  return out;
}

}  // namespace otpd::store::sqlite
