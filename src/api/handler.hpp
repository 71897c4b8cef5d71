// What a transport needs from the API: one call per request.
#pragma once

#include "api/message.hpp"
#include "core/task.hpp"

namespace otpd::api {

class Handler {
 public:
  virtual ~Handler() = default;
  // Never throws; every failure is a Response. Safe to call from several threads at once.
  // The task runs on the awaiting coroutine's executor and may suspend (store I/O); the
  // transport keeps nothing of `request` alive for it, since the task owns it.
  virtual Task<Response> handle(Request request) = 0;
};

}  // namespace otpd::api
