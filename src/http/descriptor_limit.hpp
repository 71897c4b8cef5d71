// File descriptors at start: the soft RLIMIT_NOFILE raised to the hard limit, and the
// connection cap lowered to what the limit leaves, so accept() does not run out of
// descriptors while clients wait in the backlog.
#pragma once

#include <cstddef>
#include <cstdint>

namespace otpd::http {

// Descriptors kept back from the connection cap, besides those open at start: 64 answers to
// refused connections draining at once (Listener::kMaxRefusing), 64 outbound deliveries
// (the delivery worker's attempts in flight), and 32 for the rest (store files opened later,
// resolver, logs).
inline constexpr std::size_t kReservedDescriptors = 160;
// The cap never goes below this, even when the limit is smaller than the reserve: past it,
// accept() failing for lack of descriptors sheds idle keep-alive connections instead.
inline constexpr std::size_t kMinConnections = 16;

struct DescriptorBudget {
  std::uint64_t limit = 0;          // soft RLIMIT_NOFILE in force, after raising
  bool raised = false;              // the soft limit was raised at start
  std::size_t open = 0;             // descriptors open when measured
  std::size_t max_connections = 0;  // the cap for the listeners, at most the requested one
};

// Pure: `requested` connections, lowered to fit `limit` descriptors with `open` already in
// use and `reserved` kept back; never below kMinConnections (nor above `requested`).
std::size_t fit_connections(std::size_t requested, std::uint64_t limit, std::size_t open,
                            std::size_t reserved);

// Raises the soft limit to the hard limit where allowed, counts the descriptors open now and
// fits `requested` connections under what is left after `reserved` more.
DescriptorBudget plan_descriptors(std::size_t requested, std::size_t reserved);

}  // namespace otpd::http
