// What a transport needs from the API: one call per request.
#pragma once

#include "api/message.hpp"

namespace otpd::api {

class Handler {
 public:
  virtual ~Handler() = default;
  // Never throws; every failure is a Response. Safe to call from several threads at once.
  virtual Response handle(Request request) = 0;
};

}  // namespace otpd::api
