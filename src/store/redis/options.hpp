// What a Redis client connects to and how: parsed from the `store` URL
//   redis://[user:password@]host[:port][/db][?options]        standalone, plain TCP
//   rediss://...                                               standalone, TLS
//   redis-cluster://[user:password@]host1:port1,host2:port2    Cluster, seed nodes
//   rediss-cluster://...                                       Cluster, TLS
// Options: ca_file=PATH (TLS: trust this PEM file too, besides the system store),
// timeout_ms=N (request timeout, default 2000), key_prefix=P (what the Redis store's keys
// start with, default "otpd:", so several deployments can share one server). Port
// defaults to 6379.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis/error.hpp"

namespace otpd::store::redis {

struct Endpoint {
  std::string host;  // a name or an IP literal (IPv6 without brackets)
  std::uint16_t port = 6379;

  std::string to_string() const;  // host:port, [v6]:port
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct ClientOptions {
  enum class Mode { kStandalone, kCluster };
  Mode mode = Mode::kStandalone;
  // Standalone: the one server. Cluster: seeds asked for the slot map (CLUSTER SLOTS);
  // the nodes it names are used from then on.
  std::vector<Endpoint> endpoints;
  // TLS 1.2+: the server's certificate is verified against the system trust store (plus
  // ca_file), its name checked against the host (an IP host needs an IP SAN), SNI sent.
  bool tls = false;
  std::string ca_file;
  // AUTH on every new connection: `AUTH user password` (ACL) or `AUTH password` when user
  // is empty; none when password is empty.
  std::string user;
  std::string password;
  int db = 0;  // SELECT on every new connection when not 0; standalone only
  // A request not answered within this fails with kTimeout and its connection is closed
  // and re-established; connecting has the same deadline.
  std::chrono::milliseconds request_timeout{2000};
  // Commands sent and not yet answered, per connection; beyond it a call fails at once
  // with kUnavailable.
  std::size_t max_in_flight = 4096;
  // A reply still incomplete once this many of its bytes are buffered closes the
  // connection (kProtocol): the most one reply can make the client buffer (checked after
  // each read of up to 16 KiB).
  std::size_t max_reply_bytes = std::size_t{64} << 20;
  // Not the client's: read by the Redis store (store/redis/key_schema.hpp).
  std::string key_prefix = "otpd:";

  // The URL with the password replaced by "***": the only form fit for logs and messages.
  std::string redacted_url() const;
};

// Parses a URL of the forms above. On failure the error (kInvalidArgument) says what is
// wrong without repeating the URL, which may hold a password.
Result<ClientOptions> parse_redis_url(std::string_view url);

}  // namespace otpd::store::redis
