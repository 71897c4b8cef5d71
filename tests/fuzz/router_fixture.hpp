// What fuzz_router and fuzz_json_body share: two deployments built once (tenants with API
// keys and the compatibility facade; protected mode), a fresh in-memory store, clock and
// deterministic random source per input, and the invariants of the API reference (docs/api.md)
// checked on every response (a violation aborts, which libFuzzer reports as a crash).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/message.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace otpd::fuzz {

// Plaintext API keys of the two tenants of the kTenants deployment (the config holds their
// hashes). No response may ever contain one.
inline constexpr std::string_view kAcmeKey = "acme-fuzz-key-0123456789abcdef";
inline constexpr std::string_view kBetaKey = "beta-fuzz-key-fedcba9876543210";

// splitmix64, reseeded at every input: ids, codes and request ids are the same from run to
// run, so a crash reproduces from its input alone and seeds can name real ids.
class DeterministicRandom final : public core::RandomSource {
 public:
  void reseed(std::uint64_t seed) { state_ = seed; }
  void fill(std::span<std::uint8_t> out) override;

 private:
  std::uint64_t state_ = 0;
};

enum class Deployment {
  kTenants,    // "acme" (digits, webhook + email, compat at /otp) and "beta" (alnum, limits)
  kProtected,  // no keys: tenant "default", console channel, compat at /legacy/otp
};

// A verification this input started, as the delivery queue carried it.
struct Sent {
  std::string tenant;
  std::string id;
  std::string to;    // normalised recipient
  std::string code;  // as generated
  bool alnum = false;
};

class Fixture {
 public:
  // Built on first use; lives for the process.
  static Fixture& get();

  // Starts an input: a fresh store, the clock back at its start, the random source reseeded,
  // and the router of `deployment`.
  void reset(Deployment deployment);
  Deployment deployment() const { return deployment_; }

  // The router's answer, after every invariant has been checked (aborts on a violation).
  // Sends that succeed are read back from the delivery queue into sent().
  api::Response handle(const api::Request& request);

  void advance_clock(core::Seconds by);
  const std::vector<Sent>& sent() const { return sent_; }
  // The compat facade's path in the current deployment.
  const std::string& compat_path() const;
  // "Bearer <key>" of a tenant ("acme" or "beta"); empty in protected mode.
  std::string bearer(std::string_view tenant) const;

 private:
  Fixture();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Deployment deployment_ = Deployment::kTenants;
  std::vector<Sent> sent_;

  void collect_deliveries();
  void check(const api::Request& request, const api::Response& response) const;
  void check_single_use(const api::Request& request, const api::Response& response);
};

// A JSON POST with the usual headers.
api::Request json_post(std::string target, std::string body, std::string authorization);

// Prints what was asked, what came back and why that is wrong, then aborts.
[[noreturn]] void violation(std::string_view what, const api::Request& request,
                            const api::Response* response);

}  // namespace otpd::fuzz
