// DynamoDbStore's delivery queue (a Query per shard; leases as conditional updates of `due`)
// and its sweep (a Query per hour and shard of the expiry index).
#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <map>
#include <tuple>
#include <utility>

#include "store/dynamodb/dynamodb_store.hpp"

namespace otpd::store {

using aws::AttributeValue;
using aws::TransactWriteAction;
using core::TimePoint;
using namespace dynamodb;

namespace {

// TransactWriteItems takes at most 100 actions.
constexpr std::size_t kMaxActions = 100;
// Rounds of a commit that drops the actions whose condition failed and tries the rest.
constexpr int kMaxRounds = 4;
// Rounds of leases in one take, each with the jobs other takers did not lease first.
constexpr int kMaxLeaseRounds = 8;
// A first sweep looks this far back for entries left behind (TTL deletes them in time).
constexpr long long kFirstSweepHours = 24;

AttributeValue number(TimePoint t) { return AttributeValue::number(core::to_unix_ms(t)); }

bool has_tenant(const std::vector<core::TenantId>& tenants, const core::TenantId& tenant) {
  return std::find(tenants.begin(), tenants.end(), tenant) != tenants.end();
}

// The indexes of the actions whose condition failed in a cancelled transaction; nullopt when
// it failed for another reason.
std::optional<std::vector<std::size_t>> failed_conditions(const aws::DynamoError& error,
                                                          std::size_t actions) {
  if (error.errc != aws::DynamoErrc::kTransactionCanceled || error.reasons.size() != actions) {
    return std::nullopt;
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < actions; ++i) {
    const auto& reason = error.reasons[i];
    if (reason.condition_failed()) {
      out.push_back(i);
    } else if (reason.code != "None" && reason.code != "TransactionConflict") {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

Task<Result<std::vector<DeliveryJob>>> DynamoDbStore::take_due(TakeRequest request) {
  const auto until = deadline();
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  const TimePoint now = request.now;
  const std::size_t pool = 4 * request.max + 16;
  std::vector<JobRecord> candidates;
  std::vector<JobRecord> expired;
  // Oldest first; of jobs due at the same millisecond, by tenant and id, as the other stores.
  auto by_due = [](const JobRecord& a, const JobRecord& b) {
    return std::tie(a.due, a.job.tenant, a.job.id) < std::tie(b.due, b.job.tenant, b.job.id);
  };
  for (int shard = 0; shard < kQueueShards; ++shard) {
    std::optional<Item> from;
    do {
      aws::QueryRequest query{
          .table = table_,
          .key_condition = "pk = :pk",
          .filter = "due <= :now",
          .values = {{":pk", AttributeValue::string(job_partition(shard))}, {":now", number(now)}},
          .consistent_read = true,
          .exclusive_start_key = std::move(from),
          .deadline = until};
      auto page = co_await db.query(std::move(query));
      if (!page) co_return fail("take_due", page.error());
      for (const Item& item : page->items) {
        auto job = job_of(item);
        if (!job) co_return job.error();
        if (job->job.expires_at <= now) {
          expired.push_back(std::move(*job));
        } else if (!has_tenant(request.skip_tenants, job->job.tenant)) {
          candidates.push_back(std::move(*job));
        }
      }
      // Only the oldest can be taken, and a few more in place of those another taker leases
      // first: memory stays bounded however long the queue.
      if (candidates.size() > 2 * pool) {
        std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(pool),
                         candidates.end(), by_due);
        candidates.resize(pool);
      }
      from = std::move(page->last_evaluated_key);
    } while (from);
  }

  // The code is dead: delivering it would only confuse.
  if (!expired.empty()) {
    std::vector<FinishedDelivery> dead;
    std::vector<std::optional<TimePoint>> seen_due;
    for (const auto& job : expired) {
      dead.push_back({job.job.tenant, job.job.id, core::DeliveryStatus::kFailed});
      seen_due.push_back(job.due);
    }
    auto dropped = co_await drop_jobs(db, std::move(dead), std::move(seen_due), until);
    if (!dropped) co_return dropped.error();
  }

  std::stable_sort(candidates.begin(), candidates.end(), by_due);
  if (candidates.size() > pool) candidates.resize(pool);
  // A lease is a move of `due`, on condition that nobody moved it since the read. Takers
  // racing for the same oldest jobs lose some: those are dropped and the next ones tried, so
  // a take comes back with `max` jobs whenever that many were due.
  std::vector<DeliveryJob> taken;
  std::vector<JobRecord*> batch;
  std::size_t next = 0;
  for (int round = 0; round < kMaxLeaseRounds; ++round) {
    while (taken.size() + batch.size() < request.max && batch.size() < kMaxActions &&
           next < candidates.size()) {
      batch.push_back(&candidates[next++]);
    }
    if (batch.empty()) break;
    std::vector<TransactWriteAction> actions;
    for (const JobRecord* job : batch) {
      auto lease = TransactWriteAction::update(table_, job->key, "SET due = :lease", "due = :seen");
      lease.values = {{":lease", number(request.lease_until)}, {":seen", number(job->due)}};
      actions.push_back(std::move(lease));
    }
    auto committed = co_await commit(db, std::move(actions), until);
    if (committed) {
      for (JobRecord* job : batch) taken.push_back(std::move(job->job));
      batch.clear();
      continue;
    }
    auto lost = failed_conditions(committed.error(), batch.size());
    if (!lost) {
      // What is leased is handed out; the rest stays due for the next take.
      if (taken.empty()) co_return fail("take_due", committed.error());
      break;
    }
    for (auto it = lost->rbegin(); it != lost->rend(); ++it) {
      batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
  co_return taken;
}

Task<Result<void>> DynamoDbStore::finish(std::vector<FinishedDelivery> done) {
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  // One outcome per job (the last one given): a transaction may not name an item twice.
  std::map<std::pair<std::string, std::string>, core::DeliveryStatus> outcomes;
  for (const auto& d : done) outcomes[{d.tenant.str(), d.id.str()}] = d.outcome;
  std::vector<FinishedDelivery> unique;
  for (const auto& [key, outcome] : outcomes) {
    unique.push_back({core::TenantId(key.first), core::VerificationId(key.second), outcome});
  }
  std::vector<std::optional<TimePoint>> any_due(unique.size());
  co_return co_await drop_jobs(db, std::move(unique), std::move(any_due), deadline());
}

Task<Result<void>> DynamoDbStore::drop_jobs(aws::DynamoDb& db, std::vector<FinishedDelivery> done,
                                            std::vector<std::optional<TimePoint>> conditions,
                                            Deadline until) {
  // Two actions per job: the job's deletion and its outcome on the verification (which may be
  // gone: then only the job is deleted).
  constexpr std::size_t kPerBatch = kMaxActions / 2;
  for (std::size_t first = 0; first < done.size(); first += kPerBatch) {
    struct Pending {
      const FinishedDelivery* done;
      std::optional<TimePoint> due;
      bool record = true;  // the verification is still there
    };
    std::vector<Pending> batch;
    for (std::size_t i = first; i < std::min(done.size(), first + kPerBatch); ++i) {
      batch.push_back({&done[i], conditions[i]});
    }
    for (int round = 0; !batch.empty(); ++round) {
      std::vector<TransactWriteAction> actions;
      std::vector<std::pair<std::size_t, bool>> owner;  // per action: its job, and is it the record
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const Pending& p = batch[i];
        auto remove = TransactWriteAction::remove(table_, job_key(p.done->tenant, p.done->id));
        if (p.due) {
          remove.condition = "due = :seen";
          remove.values = {{":seen", number(*p.due)}};
        }
        actions.push_back(std::move(remove));
        owner.emplace_back(i, false);
        if (p.record) {
          auto record =
              TransactWriteAction::update(table_, verification_key(p.done->tenant, p.done->id),
                                          "SET dlv = :outcome", "attribute_exists(pk)");
          record.values = {{":outcome", AttributeValue::string(core::to_string(p.done->outcome))}};
          actions.push_back(std::move(record));
          owner.emplace_back(i, true);
        }
      }
      const std::size_t count = actions.size();
      auto committed = co_await commit(db, std::move(actions), until);
      if (committed) break;
      auto lost = failed_conditions(committed.error(), count);
      if (!lost || round + 1 == kMaxRounds) co_return fail("finish", committed.error());
      // A job whose due moved was leased or retried meanwhile: it is not dead; leave it. A
      // verification that is gone needs no outcome.
      std::vector<bool> drop(batch.size(), false);
      for (std::size_t a : *lost) {
        if (owner[a].second) {
          batch[owner[a].first].record = false;
        } else {
          drop[owner[a].first] = true;
        }
      }
      std::vector<Pending> next;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!drop[i]) next.push_back(batch[i]);
      }
      batch = std::move(next);
    }
  }
  co_return Result<void>{};
}

Task<Result<void>> DynamoDbStore::retry(core::TenantId tenant, core::VerificationId id,
                                        TimePoint next_attempt) {
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  auto later = TransactWriteAction::update(
      table_, job_key(tenant, id), "SET due = :next ADD tries :one", "attribute_exists(pk)");
  later.values = {{":next", number(next_attempt)}, {":one", AttributeValue::number(1)}};
  std::vector<TransactWriteAction> actions;
  actions.push_back(std::move(later));
  auto committed = co_await commit(db, std::move(actions), deadline());
  // A job already finished or canceled has nothing left to retry.
  if (!committed && !lost_race(committed.error())) co_return fail("retry", committed.error());
  co_return Result<void>{};
}

Task<Result<std::size_t>> DynamoDbStore::depth() {
  const auto until = deadline();
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  std::size_t total = 0;
  for (int shard = 0; shard < kQueueShards; ++shard) {
    std::optional<Item> from;
    do {
      aws::QueryRequest query{.table = table_,
                              .key_condition = "pk = :pk",
                              .values = {{":pk", AttributeValue::string(job_partition(shard))}},
                              .exclusive_start_key = std::move(from),
                              .count_only = true,
                              .deadline = until};
      auto page = co_await db.query(std::move(query));
      if (!page) co_return fail("depth", page.error());
      total += static_cast<std::size_t>(std::max(0LL, page->count));
      from = std::move(page->last_evaluated_key);
    } while (from);
  }
  co_return total;
}

Task<Result<std::size_t>> DynamoDbStore::sweep(TimePoint now, core::Seconds) {
  const auto until = deadline();
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  const long long last = hour_of(now);
  long long first = last - kFirstSweepHours;
  {
    std::lock_guard lock(sweep_mu_);
    if (swept_hour_) first = std::min(*swept_hour_, last);
  }
  std::size_t deleted = 0;
  for (long long hour = first; hour <= last; ++hour) {
    for (int shard = 0; shard < kExpiryShards; ++shard) {
      std::optional<Item> from;
      do {
        aws::QueryRequest query{
            .table = table_,
            .key_condition = "pk = :pk AND sk <= :bound",
            .values = {{":pk", AttributeValue::string(expiry_partition(hour, shard))},
                       {":bound", AttributeValue::string(expiry_sort_bound(now))}},
            .consistent_read = true,
            .exclusive_start_key = std::move(from),
            .deadline = until};
        auto page = co_await db.query(std::move(query));
        if (!page) co_return fail("sweep", page.error());
        // The verification and its entry. Its job is not: take_due drops it once the code
        // has expired, long before delete_after, and a deletion costs a write unit even when
        // there is nothing to delete.
        std::vector<Item> keys;
        for (const Item& entry : page->items) {
          auto target = expiry_target(entry);
          if (!target) co_return target.error();
          keys.push_back(verification_key(target->first, target->second));
          keys.push_back(Item{{"pk", entry.at("pk")}, {"sk", entry.at("sk")}});
        }
        const std::size_t count = keys.size();
        auto gone = co_await db.batch_delete(table_, std::move(keys), until);
        if (!gone) co_return fail("sweep", gone.error());
        deleted += count;
        from = std::move(page->last_evaluated_key);
      } while (from);
    }
  }
  {
    std::lock_guard lock(sweep_mu_);
    swept_hour_ = last;
  }
  co_return deleted;
}

}  // namespace otpd::store
