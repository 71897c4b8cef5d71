// The scaled-out and Lambda backend: the Store ports on one DynamoDB table (the layout is in
// dynamodb_records.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.hpp"
#include "aws/dynamodb.hpp"
#include "core/clock.hpp"
#include "store/dynamodb/dynamodb_clients.hpp"
#include "store/dynamodb/dynamodb_records.hpp"
#include "store/store.hpp"

namespace otpd::store {

struct DynamoDbStoreOptions {
  std::string table;
  // Region, endpoint, and the time one store operation may take (its reads, its commit,
  // and the retries of both), 2 s by default.
  aws::DynamoOptions dynamo;
  // Where AWS credentials come from (tests pass their own); empty: the process environment,
  // then the container endpoint, then IMDS (aws::CredentialProvider).
  aws::CredentialProvider::Getenv getenv;
  // The time get() (which is given none) judges expiry by.
  const core::TimeSource* clock = nullptr;  // nullptr: the system clock
};

// Each operation reads a snapshot in one round trip (GetItem, or TransactGetItems when it
// spans several items), decides in core, and commits in one TransactWriteItems conditioned
// on the version (`ver`) of every item it read. A commit that finds an item changed (another
// instance won the race) reads again and decides again, up to kMaxRaces times, then
// answers kUnavailable; so does a DynamoDB that cannot be reached or keeps throttling within
// the operation's deadline (DynamoOptions::timeout). A lookup by recipient reads twice
// (the recipient's aggregates, then the newest verification), everything else once.
//
// Expiry is enforced on read (DynamoDB's TTL deletes items up to days late): a verification
// past delete_after, an idempotency record past keep_until, a bucket full again, a counter
// of a past window, a send or failure outside its window all read as absent. sweep() deletes
// the verifications past delete_after that the expiry index names, with their jobs, so a
// deployment that runs the sweeper (serve) does not wait for TTL.
//
// Threading: safe from any thread. Each operation runs on the awaiting coroutine's executor,
// with a client (and pooled connections) of that io_context's own, kept by a service of the
// io_context (dynamodb_clients.hpp): nothing hops to another thread, and the connections
// end with their io_context. Failures are logged here (at most one line a second) with
// DynamoDB's error code, which the error_code returned cannot carry.
class DynamoDbStore final : public Store {
 public:
  static constexpr int kMaxRaces = 16;

  // Throws std::invalid_argument for options DynamoDb rejects (a start-up error).
  explicit DynamoDbStore(DynamoDbStoreOptions options);
  ~DynamoDbStore() override = default;
  DynamoDbStore(const DynamoDbStore&) = delete;
  DynamoDbStore& operator=(const DynamoDbStore&) = delete;

  const std::string& table() const { return table_; }

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

  // Creates the table (on-demand, pk/sk strings) unless it exists, waits until it is active,
  // and turns TTL on for expires_at_ttl; an endpoint without the TTL API (an emulator) is
  // accepted. kSchemaMissing when the table exists with another key schema, or TTL is on
  // for another attribute.
  Task<Result<void>> init_schema() override;
  Task<Result<std::optional<std::string>>> schema_problem() override;
  Task<Result<void>> ping() override;
  // Deletes the verifications whose delete_after is at or before `now`, and their expiry
  // entries, found through the expiry index from the hour this store last swept (the past day
  // on its first sweep), with BatchWriteItem. Jobs (dropped by take_due once the code has
  // expired), counters, buckets, idempotency records and aggregates are left to TTL: they read
  // as absent once lapsed. Returns the items deleted (two per verification).
  Task<Result<std::size_t>> sweep(core::TimePoint now, core::Seconds counter_horizon) override;

 private:
  using Deadline = aws::Deadline;

  Deadline deadline() const;
  // The error a failed DynamoDB call becomes, logged (rate-limited) with its AWS code.
  boost::system::error_code fail(const char* op, const aws::DynamoError& error);
  // Whether a failed commit lost a race (a condition no longer held): read again.
  static bool lost_race(const aws::DynamoError& error);

  // One consistent read of `keys` (deduplicated by the caller): GetItem for one,
  // TransactGetItems for more.
  Task<aws::DynamoResult<std::vector<std::optional<aws::Item>>>> read(aws::DynamoDb& db,
                                                                      std::vector<aws::Item> keys,
                                                                      Deadline deadline);
  // Commits `actions` in one transaction (nothing when empty).
  Task<aws::DynamoResult<void>> commit(aws::DynamoDb& db,
                                       std::vector<aws::TransactWriteAction> actions,
                                       Deadline deadline);

  // check(): by id, and by the recipient's newest.
  Task<Result<core::CheckDecision>> check_by_id(aws::DynamoDb& db, CheckRequest& request,
                                                Deadline deadline);
  Task<Result<core::CheckDecision>> check_by_recipient(aws::DynamoDb& db, CheckRequest& request,
                                                       Deadline deadline);

  // Deletes a job and records its outcome on its verification, for each of `done` (finish,
  // and the expired jobs take_due drops). `conditions` (when given, one per job) is the
  // `due` each job must still have.
  Task<Result<void>> drop_jobs(aws::DynamoDb& db, std::vector<FinishedDelivery> done,
                               std::vector<std::optional<core::TimePoint>> conditions,
                               Deadline deadline);

  std::string table_;
  std::chrono::milliseconds timeout_;
  const core::TimeSource* clock_;
  core::SystemTimeSource system_clock_;
  std::shared_ptr<const dynamodb::ClientSettings> settings_;
  std::atomic<long long> last_log_ms_{0};
  std::mutex sweep_mu_;
  std::optional<long long> swept_hour_;  // GUARDED_BY(sweep_mu_)
};

}  // namespace otpd::store
