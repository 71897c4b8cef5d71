// MemoryStore: each operation reads a snapshot and commits what core decides, under one
// mutex.
#include "store/memory/memory_store.hpp"

#include <algorithm>
#include <utility>

namespace otpd::store {

using core::TimePoint;
using core::Verification;

namespace {

// (tenant, id) or (tenant, recipient hash).
using Key = std::pair<std::string, std::string>;

struct Job {
  DeliveryJob job;
  TimePoint next_attempt_at;
};

struct Bucket {
  core::BucketState state;
  TimePoint full_at;
};

// A send record: the verification it started, which it lives as long as.
struct SendRecord {
  TimePoint at;
  std::string id;
};

// Events in (from, to], counted with the oldest.
core::WindowCount count_in(const std::vector<TimePoint>& times, TimePoint from, TimePoint to) {
  core::WindowCount out;
  for (TimePoint t : times) {
    if (t > from && t <= to) out.merge({1, t});
  }
  return out;
}

}  // namespace

struct MemoryStore::State {
  std::map<Key, Verification> verifications;
  std::map<Key, std::vector<SendRecord>> sends;  // by recipient, in the order started
  std::map<Key, std::vector<TimePoint>> failures;
  std::map<std::tuple<std::string, long long, long long>, long long> counters;
  std::map<std::string, Bucket> buckets;
  std::map<Key, core::IdempotencyRecord> idempotency;
  std::map<Key, Job> jobs;

  Verification* find(const std::string& tenant, const std::string& id) {
    auto it = verifications.find({tenant, id});
    return it == verifications.end() ? nullptr : &it->second;
  }

  // The newest verification of a recipient under any of its hashes; of two started in the
  // same millisecond, the one started later.
  Verification* newest(const core::TenantId& tenant,
                       const std::vector<core::RecipientHash>& recipients) {
    Verification* best = nullptr;
    for (const auto& recipient : recipients) {
      auto it = sends.find({tenant.str(), recipient.str()});
      if (it == sends.end()) continue;
      for (auto record = it->second.rbegin(); record != it->second.rend(); ++record) {
        Verification* v = find(tenant.str(), record->id);
        if (v == nullptr) continue;
        if (best == nullptr || v->created_at > best->created_at) best = v;
        break;
      }
    }
    return best;
  }

  core::WindowCount sends_in(const core::TenantId& tenant,
                             const std::vector<core::RecipientHash>& recipients, TimePoint from,
                             TimePoint to) {
    core::WindowCount out;
    for (const auto& recipient : recipients) {
      auto it = sends.find({tenant.str(), recipient.str()});
      if (it == sends.end()) continue;
      for (const auto& record : it->second) {
        if (record.at > from && record.at <= to) out.merge({1, record.at});
      }
    }
    return out;
  }

  core::WindowCount failures_in(const core::TenantId& tenant,
                                const std::vector<core::RecipientHash>& recipients, TimePoint now) {
    core::WindowCount out;
    for (const auto& recipient : recipients) {
      auto it = failures.find({tenant.str(), recipient.str()});
      if (it != failures.end()) {
        out.merge(count_in(it->second, now - core::kFailureBudgetWindow, now));
      }
    }
    return out;
  }

  void drop_job_as(const Key& key, core::DeliveryStatus outcome) {
    if (Verification* v = find(key.first, key.second)) v->delivery = outcome;
    jobs.erase(key);
  }
};

MemoryStore::MemoryStore() : state_(std::make_unique<State>()) {}
MemoryStore::~MemoryStore() = default;

Task<Result<StartOutcome>> MemoryStore::start(StartRequest request) {
  std::lock_guard lock(mu_);
  State& s = *state_;
  const Verification& fresh = request.verification;
  const TimePoint now = fresh.created_at;
  const std::string& tenant = fresh.tenant.str();

  core::SendSnapshot snapshot;
  if (request.idempotency) {
    auto it = s.idempotency.find({tenant, request.idempotency->key});
    if (it != s.idempotency.end()) snapshot.idempotency = it->second;
  }
  if (request.rate) {
    auto it = s.buckets.find(request.rate->key);
    if (it != s.buckets.end()) snapshot.bucket = it->second.state;
  }
  Verification* newest = s.newest(fresh.tenant, request.history);
  if (newest != nullptr) snapshot.newest = *newest;
  snapshot.sends = s.sends_in(fresh.tenant, request.history, now - request.rules.send_window, now);
  snapshot.failures = s.failures_in(fresh.tenant, request.history, now);
  for (const auto& counter : request.counters) {
    const auto w = core::counter_window(now, counter.window);
    auto it = s.counters.find({counter.key, w.start_ms, w.end_ms});
    snapshot.counters.push_back(counter.active() && it != s.counters.end() ? it->second : 0);
  }

  StartOutcome out;
  out.decision = core::decide_send(snapshot, request.rules, request.idempotency, request.rate,
                                   request.counters, now);
  if (out.decision.verdict == core::SendVerdict::kReplay) {
    out.verification = snapshot.idempotency->first;
  }
  if (out.decision.verdict != core::SendVerdict::kStart) co_return out;

  if (out.decision.supersede) {
    newest->status = core::Status::kCanceled;
    s.jobs.erase({tenant, newest->id.str()});
    out.superseded = newest->id;
  }
  Verification stored = fresh;
  stored.status = core::Status::kPending;
  stored.attempts = 0;
  stored.approved_at.reset();
  stored.delivery = core::DeliveryStatus::kQueued;
  stored.resend_at = out.decision.resend_at;
  s.verifications[{tenant, stored.id.str()}] = stored;
  s.sends[{tenant, stored.recipient.str()}].push_back({now, stored.id.str()});
  for (std::size_t i : out.decision.counted) {
    const auto w = core::counter_window(now, request.counters[i].window);
    ++s.counters[{request.counters[i].key, w.start_ms, w.end_ms}];
  }
  if (out.decision.token) {
    s.buckets[request.rate->key] = {out.decision.token->next, out.decision.token->full_at};
  }
  if (request.idempotency) {
    s.idempotency[{tenant, request.idempotency->key}] = {request.idempotency->request_hash, stored,
                                                         request.idempotency->keep_until};
  }
  DeliveryJob job{
      stored.tenant,    stored.id, stored.channel, std::move(request.sealed_delivery), 0,
      stored.expires_at};
  s.jobs[{tenant, stored.id.str()}] = {std::move(job), request.delivery_leased_until.value_or(now)};
  out.verification = std::move(stored);
  co_return out;
}

Task<Result<core::CheckDecision>> MemoryStore::check(CheckRequest request) {
  const std::string& tenant = request.tenant.str();
  // The verification the lookup finds, and the failures counted against its recipient.
  auto snapshot = [&]() -> core::CheckSnapshot {
    State& s = *state_;
    core::CheckSnapshot out;
    Verification* v = request.id ? s.find(tenant, request.id->str())
                                 : s.newest(request.tenant, request.recipients);
    if (v == nullptr) return out;
    out.verification = *v;
    out.failures = request.id ? s.failures_in(request.tenant, {v->recipient}, request.now)
                              : s.failures_in(request.tenant, request.recipients, request.now);
    return out;
  };

  core::CheckSnapshot seen;
  {
    std::lock_guard lock(mu_);
    seen = snapshot();
  }
  for (;;) {
    if (!seen.verification) co_return core::CheckDecision{};
    const core::CodeMatch match = request.match(*seen.verification);
    std::lock_guard lock(mu_);
    core::CheckSnapshot now = snapshot();
    // A lookup by recipient may now find a newer verification: match against that one.
    if (now.verification && now.verification->id != seen.verification->id) {
      seen = std::move(now);
      continue;
    }
    core::CheckDecision decision =
        core::decide_check(now, match, request.failures_per_hour, request.now);
    if (decision.write) state_->verifications[{tenant, decision.after->id.str()}] = *decision.after;
    if (decision.record_failure) {
      state_->failures[{tenant, decision.after->recipient.str()}].push_back(request.now);
    }
    co_return decision;
  }
}

Task<Result<std::optional<Verification>>> MemoryStore::get(core::TenantId tenant,
                                                           core::VerificationId id) {
  std::lock_guard lock(mu_);
  const Verification* v = state_->find(tenant.str(), id.str());
  co_return v == nullptr ? std::nullopt : std::optional<Verification>(*v);
}

Task<Result<core::TransitionDecision>> MemoryStore::transition(TransitionRequest request) {
  std::lock_guard lock(mu_);
  Verification* v = state_->find(request.tenant.str(), request.id.str());
  core::TransitionDecision decision = core::decide_transition(
      request.transition, v ? std::optional<Verification>(*v) : std::nullopt, request.now);
  if (decision.verdict == core::TransitionVerdict::kDone) {
    *v = *decision.after;
    if (request.transition == core::Transition::kCancel) {
      state_->jobs.erase({request.tenant.str(), request.id.str()});
    }
  }
  co_return decision;
}

Task<Result<TokenOutcome>> MemoryStore::take_token(core::TokenSpec spec, TimePoint now) {
  if (!spec.active()) co_return TokenOutcome{};
  std::lock_guard lock(mu_);
  auto it = state_->buckets.find(spec.key);
  const auto stored = it == state_->buckets.end() ? std::nullopt : std::optional(it->second.state);
  const core::TakeDecision decision = core::take_token(spec, stored, now);
  if (decision.allowed) state_->buckets[spec.key] = {decision.next, decision.full_at};
  co_return TokenOutcome{decision.allowed, decision.retry_after};
}

Task<Result<std::vector<DeliveryJob>>> MemoryStore::take_due(TakeRequest request) {
  std::lock_guard lock(mu_);
  State& s = *state_;
  std::vector<Job*> due;
  std::vector<Key> dead;
  for (auto& [key, job] : s.jobs) {
    if (job.next_attempt_at > request.now) continue;
    if (job.job.expires_at <= request.now) {
      dead.push_back(key);  // the code is dead: delivering it would only confuse
      continue;
    }
    const bool skipped = std::find(request.skip_tenants.begin(), request.skip_tenants.end(),
                                   job.job.tenant) != request.skip_tenants.end();
    if (!skipped) due.push_back(&job);
  }
  for (const auto& key : dead) s.drop_job_as(key, core::DeliveryStatus::kFailed);
  std::stable_sort(due.begin(), due.end(), [](const Job* a, const Job* b) {
    return a->next_attempt_at < b->next_attempt_at;
  });
  if (due.size() > request.max) due.resize(request.max);
  std::vector<DeliveryJob> taken;
  for (Job* job : due) {
    job->next_attempt_at = request.lease_until;
    taken.push_back(job->job);
  }
  co_return taken;
}

Task<Result<void>> MemoryStore::finish(std::vector<FinishedDelivery> done) {
  std::lock_guard lock(mu_);
  for (const auto& d : done) state_->drop_job_as({d.tenant.str(), d.id.str()}, d.outcome);
  co_return Result<void>{};
}

Task<Result<void>> MemoryStore::retry(core::TenantId tenant, core::VerificationId id,
                                      TimePoint next_attempt) {
  std::lock_guard lock(mu_);
  auto it = state_->jobs.find({tenant.str(), id.str()});
  if (it != state_->jobs.end()) {
    ++it->second.job.attempts;
    it->second.next_attempt_at = next_attempt;
  }
  co_return Result<void>{};
}

Task<Result<std::size_t>> MemoryStore::depth() {
  std::lock_guard lock(mu_);
  co_return state_->jobs.size();
}

Task<Result<void>> MemoryStore::init_schema() { co_return Result<void>{}; }

Task<Result<std::optional<std::string>>> MemoryStore::schema_problem() {
  co_return std::optional<std::string>();
}

Task<Result<void>> MemoryStore::ping() { co_return Result<void>{}; }

Task<Result<std::size_t>> MemoryStore::sweep(TimePoint now, core::Seconds counter_horizon) {
  std::lock_guard lock(mu_);
  State& s = *state_;
  std::size_t deleted = 0;
  auto erase_if = [&](auto& map, auto&& gone) { deleted += std::erase_if(map, gone); };
  std::vector<Key> dead_jobs;
  for (const auto& [key, job] : s.jobs) {
    if (job.job.expires_at <= now) dead_jobs.push_back(key);
  }
  for (const auto& key : dead_jobs) s.drop_job_as(key, core::DeliveryStatus::kFailed);
  erase_if(s.verifications, [&](const auto& entry) { return entry.second.delete_after <= now; });
  for (auto& entry : s.sends) {
    // (clang 14 cannot capture a structured binding in a lambda)
    const std::string& tenant = entry.first.first;
    deleted +=
        std::erase_if(entry.second, [&](const SendRecord& r) { return !s.find(tenant, r.id); });
  }
  std::erase_if(s.sends, [](const auto& entry) { return entry.second.empty(); });
  erase_if(s.jobs,
           [&](const auto& entry) { return !s.find(entry.first.first, entry.first.second); });
  erase_if(s.idempotency, [&](const auto& entry) { return entry.second.keep_until <= now; });
  for (auto& entry : s.failures) {
    deleted += std::erase_if(entry.second, [&](TimePoint t) { return t < now - counter_horizon; });
  }
  std::erase_if(s.failures, [](const auto& entry) { return entry.second.empty(); });
  erase_if(s.counters,
           [&](const auto& entry) { return core::from_unix_ms(std::get<2>(entry.first)) <= now; });
  erase_if(s.buckets, [&](const auto& entry) { return entry.second.full_at <= now; });
  co_return deleted;
}

}  // namespace otpd::store
