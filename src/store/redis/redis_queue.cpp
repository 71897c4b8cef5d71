// RedisStore's delivery queue: one sorted set per slot group ({gN}q, scored by when each
// job is next due, in ms), the jobs' payloads in a hash of the same slot ({gN}j).
//
// A group's due jobs are leased by one script, oldest first, so two workers never take one
// job. On a standalone server there is one group: take_due is that one script. On a
// Cluster, take_due first reads what is due in every group (one ZRANGEBYSCORE each, all at
// once: a bounded scan of `groups` small reads), picks the oldest over all of them, and
// leases that many from each group; a group that has fewer left (another worker was
// quicker) is made up for from the others in another round. Tenants to skip are passed
// over inside the script; each read looks up to 4 x max deep when tenants are skipped. A
// group whose master is down is left out (its jobs wait for it), unless all are.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <tuple>
#include <utility>

#include "store/redis/redis_store.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_support.hpp"

namespace otpd::store {

namespace asio = boost::asio;

using core::TimePoint;
using redis::CommitBatch;
using redis::KeySchema;

namespace {

std::string ms(TimePoint t) { return std::to_string(core::to_unix_ms(t)); }

// Rounds of peek-and-lease one take_due makes at most on a Cluster.
constexpr int kTakeRounds = 8;

struct Leased {
  double score = 0;
  std::string member;
  int group = 0;
  std::optional<std::string> job;
};

}  // namespace

Task<Result<std::vector<DeliveryJob>>> RedisStore::take_due(TakeRequest request) {
  std::vector<DeliveryJob> out;
  if (request.max == 0) co_return out;
  std::vector<Leased> leased;
  for (int round = 0; round < kTakeRounds && leased.size() < request.max; ++round) {
    const std::size_t want = request.max - leased.size();

    // How many to take from each group.
    std::map<int, std::size_t> quota;
    if (schema_.groups() == 1) {
      quota[0] = want;
    } else {
      const std::size_t deep = request.skip_tenants.empty() ? want : 4 * want;
      std::vector<redis::RedisIo::Command> peeks;
      for (int g = 0; g < schema_.groups(); ++g) {
        const std::string queue = schema_.queue(g);
        peeks.push_back({{queue},
                         {"ZRANGEBYSCORE", queue, "-inf", ms(request.now), "WITHSCORES", "LIMIT",
                          "0", std::to_string(deep)}});
      }
      auto peeked = co_await io_->commands(std::move(peeks));
      std::vector<std::tuple<double, std::string, int>> due;
      std::size_t unreachable = 0;
      for (int g = 0; g < schema_.groups(); ++g) {
        auto& reply = peeked[static_cast<std::size_t>(g)];
        if (!reply) {
          // A master that is down holds its groups' jobs back, not the others'.
          ++unreachable;
          continue;
        }
        const auto& e = reply->elements();
        for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
          core::TenantId tenant;
          core::VerificationId id;
          if (!KeySchema::parse_member(e[i].str(), tenant, id)) continue;
          if (std::find(request.skip_tenants.begin(), request.skip_tenants.end(), tenant) !=
              request.skip_tenants.end()) {
            continue;
          }
          due.emplace_back(std::strtod(e[i + 1].str().c_str(), nullptr), e[i].str(), g);
        }
      }
      if (unreachable == peeked.size()) co_return redis::unavailable();
      std::sort(due.begin(), due.end());
      if (due.size() > want) due.resize(want);
      for (const auto& d : due) ++quota[std::get<2>(d)];
    }
    if (quota.empty()) break;

    std::vector<redis::RedisIo::Command> leases;
    for (const auto& [g, n] : quota) {
      redis::RedisIo::Command c;
      c.keys = {schema_.queue(g), schema_.jobs(g)};
      c.args = {ms(request.now), ms(request.lease_until), std::to_string(n)};
      for (const auto& t : request.skip_tenants) c.args.push_back(t.str());
      leases.push_back(std::move(c));
    }
    auto replies = co_await io_->scripts(redis::lease_script(), std::move(leases));
    bool short_of_quota = false;
    std::size_t index = 0;
    for (const auto& [g, n] : quota) {
      auto& reply = replies[index++];
      if (!reply) {
        if (schema_.groups() == 1) co_return redis::unavailable(reply.error());
        continue;
      }
      const auto& e = reply->elements();
      if (e.size() / 3 < n) short_of_quota = true;
      for (std::size_t i = 0; i + 2 < e.size(); i += 3) {
        Leased l;
        l.member = e[i].str();
        l.score = std::strtod(e[i + 1].str().c_str(), nullptr);
        l.group = g;
        if (e[i + 2].is_bulk()) l.job = e[i + 2].str();
        leased.push_back(std::move(l));
      }
    }
    if (schema_.groups() == 1 || !short_of_quota) break;
  }

  // Jobs whose code has expired are not handed out: the delivery failed. Recording that
  // may fail (a master down): the job then stays leased and comes back after its lease,
  // while the live jobs taken here are handed out all the same.
  std::sort(leased.begin(), leased.end(), [](const Leased& a, const Leased& b) {
    return std::tie(a.score, a.member) < std::tie(b.score, b.member);
  });
  for (auto& l : leased) {
    core::TenantId tenant;
    core::VerificationId id;
    if (!KeySchema::parse_member(l.member, tenant, id)) continue;
    if (!l.job) {
      // The payload lapsed with its code: the verification is found through the index.
      auto found = co_await locate(tenant, id);
      if (found && *found) {
        const auto recipient = (*found)->recipient;
        co_await end_delivery(tenant, id, recipient, core::DeliveryStatus::kFailed,
                              std::move(*found));
      } else if (found) {
        CommitBatch batch;
        batch.dequeue(schema_.queue(l.group), l.member);
        co_await io_->commit(std::move(batch));
      }
      continue;
    }
    auto job = redis::decode_job(*l.job);
    if (!job) co_return job.error();
    if (job->expires_at <= request.now) {
      co_await end_delivery(tenant, id, job->recipient, core::DeliveryStatus::kFailed);
      continue;
    }
    out.push_back(DeliveryJob{std::move(tenant), std::move(id), job->channel,
                              std::move(job->sealed), job->attempts, job->expires_at});
  }
  co_return out;
}

Task<Result<void>> RedisStore::end_delivery(const core::TenantId& tenant,
                                            const core::VerificationId& id,
                                            const core::RecipientHash& recipient,
                                            core::DeliveryStatus outcome,
                                            std::optional<Record> first) {
  const std::vector<core::RecipientHash> one{recipient};
  const int group = schema_.group_of(tenant, recipient);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto records = co_await first_or_read(tenant, one, first);
    if (!records) co_return records.error();
    Record& record = records->front();
    CommitBatch batch;
    core::Verification* v = record.value.find(id);
    if (v != nullptr && v->delivery != outcome) {
      redis::RecipientRecord next = record.value;
      next.find(id)->delivery = outcome;
      rewrite(batch, record, next);
    }
    drop_job(batch, group, tenant, id);
    auto committed = co_await io_->commit(std::move(batch));
    if (!committed) co_return redis::unavailable(committed.error());
    if (committed->applied) co_return Result<void>{};
    co_await redis::pause_after_conflict(attempt);
  }
  co_return redis::unavailable();
}

Task<Result<void>> RedisStore::finish_one(FinishedDelivery d) {
  auto found = co_await locate(d.tenant, d.id);
  if (!found) co_return found.error();
  if (!*found) co_return Result<void>{};  // the verification is gone, and its job with it
  const auto recipient = (*found)->recipient;
  co_return co_await end_delivery(d.tenant, d.id, recipient, d.outcome, std::move(*found));
}

Task<Result<void>> RedisStore::finish(std::vector<FinishedDelivery> done) {
  // All at once; on failure some may be recorded, and each is idempotent.
  if (done.empty()) co_return Result<void>{};
  auto executor = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(executor, finish_one(FinishedDelivery{}), asio::deferred));
  std::vector<Op> ops;
  ops.reserve(done.size());
  for (auto& d : done)
    ops.push_back(asio::co_spawn(executor, finish_one(std::move(d)), asio::deferred));
  auto [order, exceptions, results] =
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (exceptions[i]) std::rethrow_exception(exceptions[i]);
    if (!results[i]) co_return results[i].error();
  }
  co_return Result<void>{};
}

Task<Result<RedisStore::Rescheduled>> RedisStore::reschedule(int group,
                                                             const core::TenantId& tenant,
                                                             const core::VerificationId& id,
                                                             TimePoint next_attempt) {
  const auto job_at = schema_.job(group, tenant, id);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::vector<redis::RedisIo::Read> reads{{job_at.key, job_at.field}};
    auto values = co_await io_->read(std::move(reads));
    if (!values) co_return redis::unavailable(values.error());
    const auto& raw = values->front();
    if (!raw) co_return Rescheduled::kNoJob;
    auto job = redis::decode_job(*raw);
    if (!job) co_return job.error();
    ++job->attempts;
    CommitBatch batch;
    batch.expect(job_at.key, job_at.field, raw);
    batch.set_field(job_at.key, job_at.field, redis::encode_job(*job), job->expires_at);
    batch.enqueue(schema_.queue(group), job_at.field, next_attempt, job->expires_at);
    auto committed = co_await io_->commit(std::move(batch));
    if (!committed) co_return redis::unavailable(committed.error());
    if (committed->applied) co_return Rescheduled::kDone;
    co_await redis::pause_after_conflict(attempt);
  }
  co_return redis::unavailable();
}

Task<Result<void>> RedisStore::retry(core::TenantId tenant, core::VerificationId id,
                                     TimePoint next_attempt) {
  // The job is in its recipient's group. That is the group the id names (on one slot, the
  // only one): a read and a commit. Only when no job is there is the id looked up, in case
  // it names another group; no job anywhere means it finished meanwhile, or lapsed.
  const auto named = schema_.group_named_by(id);
  if (named) {
    auto done = co_await reschedule(*named, tenant, id, next_attempt);
    if (!done) co_return done.error();
    if (*done == Rescheduled::kDone || schema_.groups() == 1) co_return Result<void>{};
  }
  auto found = co_await locate(tenant, id);
  if (!found) co_return found.error();
  if (!*found) co_return Result<void>{};
  const int group = schema_.group_of(tenant, (*found)->recipient);
  if (named && group == *named) co_return Result<void>{};
  auto done = co_await reschedule(group, tenant, id, next_attempt);
  if (!done) co_return done.error();
  co_return Result<void>{};
}

Task<Result<std::size_t>> RedisStore::depth() {
  std::vector<redis::RedisIo::Command> counts;
  for (int g = 0; g < schema_.groups(); ++g) {
    const std::string queue = schema_.queue(g);
    counts.push_back({{queue}, {"ZCARD", queue}});
  }
  auto replies = co_await io_->commands(std::move(counts));
  std::size_t total = 0;
  for (const auto& reply : replies) {
    if (!reply) co_return redis::unavailable(reply.error());
    total += static_cast<std::size_t>(std::max(0LL, reply->integer()));
  }
  co_return total;
}

}  // namespace otpd::store
