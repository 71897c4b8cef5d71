// A store decorator that records each operation's latency and failures in the metrics
// (otpd_store_operation_duration_seconds{op}, otpd_store_errors_total{op}), so backends
// stay free of metrics code.
#pragma once

#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace otpd::store {

class MeteredStore final : public StoreWrapper {
 public:
  // `inner` and `metrics` must outlive this object.
  MeteredStore(Store& inner, obs::Metrics& metrics);

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
  Task<Result<void>> ping() override;

 private:
  // Awaits `task`, recording its latency and whether it failed under `op`.
  template <typename T>
  Task<Result<T>> timed(const char* op, Task<Result<T>> task);

  obs::Metrics& metrics_;
};

}  // namespace otpd::store
