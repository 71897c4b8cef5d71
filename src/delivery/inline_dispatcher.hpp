// Delivery for Lambda mode, where a frozen function runs nothing between invocations: a
// send's first attempt is made before the send is answered, and its outcome is in the store
// before then too (no batch timer, no background coroutine). What fails transiently stays
// queued in the store; each later send of the same tenant also attempts a few of that
// tenant's due jobs, alongside its own.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "delivery/deliverer.hpp"
#include "delivery/dispatcher.hpp"
#include "store/store.hpp"

namespace otpd::delivery {

struct InlineOptions {
  // Due jobs of the sending tenant taken and attempted with each send. Only that tenant's:
  // a tenant whose provider hangs slows its own sends, never another tenant's.
  std::size_t catch_up = 4;
};

class InlineDispatcher final : public Dispatcher {
 public:
  static constexpr core::Millis kLease = kAttemptLease;

  // Everything passed by reference must outlive every dispatch.
  InlineDispatcher(store::DeliveryQueue& store, Deliverer& deliverer, const core::TimeSource& clock,
                   InlineOptions options = {});

  // Always leased: this process attempts the job itself before answering.
  std::optional<core::TimePoint> lease_until(core::TimePoint now) override;
  // Attempts the send's job and up to InlineOptions::catch_up due jobs of its tenant, all at
  // once, and records every outcome before returning. The send's answer shows kSent or
  // kFailed, or kQueued when a retry is due later (or the outcome could not be recorded:
  // the job is then attempted again once its lease has passed).
  Task<core::DeliveryStatus> dispatch(store::DeliveryJob job, bool leased) override;
  // Takes up to InlineOptions::catch_up due jobs of `tenant` and attempts them together;
  // returns how many were taken.
  Task<std::size_t> catch_up(core::TenantId tenant);

 private:
  Task<core::DeliveryStatus> deliver(store::DeliveryJob job);

  store::DeliveryQueue& store_;
  Deliverer& deliverer_;
  const core::TimeSource& clock_;
  const InlineOptions options_;
  std::vector<core::TenantId> tenants_;  // every configured tenant, for skip_tenants
};

}  // namespace otpd::delivery
