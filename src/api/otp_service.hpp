// The OTP endpoints' logic (send, verify, status, cancel) for an authenticated tenant:
// input validation, policy, code generation and sealing, the store's atomic operations,
// and the mapping of every outcome to its status and problem code.
#pragma once

#include <string>

#include "api/message.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/keyring.hpp"
#include "core/random.hpp"
#include "delivery/worker.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace otpd::api {

class OtpService {
 public:
  OtpService(store::Store& store, const core::Keyring& keyring, const core::TimeSource& clock,
             core::RandomSource& rng, obs::Metrics& metrics, delivery::Notifier* notifier)
      : store_(store),
        keyring_(keyring),
        clock_(clock),
        rng_(rng),
        metrics_(metrics),
        notifier_(notifier) {}

  Response send(const config::TenantConfig& tenant, const Request& request);
  Response verify(const config::TenantConfig& tenant, const Request& request);
  Response status(const config::TenantConfig& tenant, const std::string& id);
  Response cancel(const config::TenantConfig& tenant, const std::string& id);

  // The original service's routes (PRODUCT.md section 2, compatibility facade): plain-text
  // answers with the original wording, on top of the same rules.
  Response compat_send(const config::TenantConfig& tenant, const std::string& email);
  Response compat_verify(const config::TenantConfig& tenant, const Request& request);

 private:
  struct SendInput;
  Response start(const config::TenantConfig& tenant, const SendInput& input,
                 const std::string* idempotency_key, const std::string& request_hash);

  store::Store& store_;
  const core::Keyring& keyring_;
  const core::TimeSource& clock_;
  core::RandomSource& rng_;
  obs::Metrics& metrics_;
  delivery::Notifier* notifier_;
};

}  // namespace otpd::api
