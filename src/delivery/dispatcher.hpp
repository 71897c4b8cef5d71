// What the API sees of delivery: the port a send hands its committed job to. The server's
// Worker takes it over and delivers in the background; in Lambda mode InlineDispatcher
// delivers it inline, before the response, since a frozen Lambda runs nothing in the
// background.
#pragma once

#include <optional>

#include "core/task.hpp"
#include "core/types.hpp"
#include "core/verification.hpp"
#include "store/store.hpp"

namespace otpd::delivery {

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // Until when a send's job is stored leased (hidden from the queue's takers) because this
  // process will deliver it itself right after the commit; nullopt leaves it due at once
  // for any worker (this one stopping, or too busy to take it).
  virtual std::optional<core::TimePoint> lease_until(core::TimePoint now) = 0;
  // The job of a committed send, stored with lease_until(now) (`leased`) or due. Returns
  // the delivery status the send's answer shows: kQueued when handed over, the outcome of
  // the attempt when delivered inline. Never throws.
  virtual Task<core::DeliveryStatus> dispatch(store::DeliveryJob job, bool leased) = 0;
};

}  // namespace otpd::delivery
