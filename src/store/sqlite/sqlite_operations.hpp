// The body of every Store operation on one SQLite connection: the reads that make core's
// snapshot and the writes that commit core's decision. Each function runs inside whatever
// transaction its caller holds (the writer's savepoint, or a reader's snapshot); none
// opens one, none takes a lock, none keeps state.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "store/sqlite/sqlite_connection.hpp"
#include "store/store.hpp"

namespace otpd::store::sqlite {

// ---- reads ---------------------------------------------------------------------------

Result<std::optional<core::Verification>> select_verification(Connection& db,
                                                              const core::TenantId& tenant,
                                                              const core::VerificationId& id);
// What check decides on: the verification asked for (by id, or the newest of the
// recipient's hashes) and the failures in its budget window.
Result<core::CheckSnapshot> check_snapshot(Connection& db, const CheckRequest& request);
Result<std::size_t> delivery_depth(Connection& db);
Result<void> ping(Connection& db);

// ---- writes (REQUIRES: inside a write transaction) ----------------------------------

Result<StartOutcome> start(Connection& db, const StartRequest& request);

// The commit of a check whose code was matched against `expected`. When the lookup now
// finds another verification (a send raced with it), nothing is written and `raced` holds
// the new snapshot, for the caller to match again.
struct CheckCommit {
  core::CheckDecision decision;
  std::optional<core::CheckSnapshot> raced;
};
Result<CheckCommit> commit_check(Connection& db, const CheckRequest& request,
                                 const core::VerificationId& expected, core::CodeMatch match);
// A whole check by id whose code was hashed ahead (`request.typed`): the read, the
// comparison (core::match_typed_code, no hashing), the decision and its commit.
Result<core::CheckDecision> check_typed(Connection& db, const CheckRequest& request);

Result<core::TransitionDecision> transition(Connection& db, const TransitionRequest& request);
Result<TokenOutcome> take_token(Connection& db, const core::TokenSpec& spec, core::TimePoint now);
Result<std::vector<DeliveryJob>> take_due(Connection& db, const TakeRequest& request);
Result<void> finish(Connection& db, const std::vector<FinishedDelivery>& done);
Result<void> retry(Connection& db, const core::TenantId& tenant, const core::VerificationId& id,
                   core::TimePoint next_attempt);

// One slice of the sweep: at most `limit` rows of each table. `more` when some table had
// more to delete than that.
struct SweepSlice {
  std::size_t deleted = 0;
  bool more = false;
};
Result<SweepSlice> sweep_slice(Connection& db, core::TimePoint now, core::Seconds counter_horizon,
                               std::size_t limit);

}  // namespace otpd::store::sqlite
