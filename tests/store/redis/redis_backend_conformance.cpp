// Runs the conformance suite on RedisStore: on a standalone server (every key in one slot)
// and on a 3-master Redis Cluster (keys spread over slot groups, sends in steps), both
// started by the CTest fixtures. Reopening is a new store, and a new client, on the same
// server and prefix: nothing an instance keeps in memory counts, as with several instances.
#include "redis_backend.hpp"
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using Kind = testing_support::RedisServers::Kind;

BackendFactory redis_factory() {
  return BackendFactory{"redis", [] { return make_redis_backend(Kind::kStandalone); },
                        /*persistent=*/true};
}

BackendFactory redis_cluster_factory() {
  return BackendFactory{"redis_cluster", [] { return make_redis_backend(Kind::kCluster); },
                        /*persistent=*/true};
}

}  // namespace

OTPD_STORE_CONFORMANCE(Redis, (redis_factory()));
OTPD_STORE_CONFORMANCE(RedisCluster, (redis_cluster_factory()));

}  // namespace otpd::store::testing
