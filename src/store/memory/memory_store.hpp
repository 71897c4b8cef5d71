// A store that keeps everything in process memory: the reference backend the API tests run
// on (with a manual clock), and `store = "memory://"` for trying otpd out. Nothing survives
// a restart, so it is never the default.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "store/store.hpp"

namespace otpd::store {

// Every operation takes one mutex for its read and its commit; the code matcher of a check
// runs between them, outside the lock, as the port requires of every backend. Operations
// complete before their task first suspends.
class MemoryStore final : public Store {
 public:
  MemoryStore();
  ~MemoryStore() override;

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
  Task<Result<void>> init_schema() override;
  Task<Result<std::optional<std::string>>> schema_problem() override;
  Task<Result<void>> ping() override;
  Task<Result<std::size_t>> sweep(core::TimePoint now, core::Seconds counter_horizon) override;

 private:
  struct State;
  std::mutex mu_;
  std::unique_ptr<State> state_;  // GUARDED_BY(mu_)
};

}  // namespace otpd::store
