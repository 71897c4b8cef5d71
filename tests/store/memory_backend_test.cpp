// Runs the conformance suite on MemoryStore, the reference backend: a new store per test.
// It keeps nothing across a restart, so it declares itself not persistent and has no
// durability tests.
#include <memory>

#include "store/memory/memory_store.hpp"
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

class MemoryBackend final : public Backend {
 public:
  std::unique_ptr<Store> open() override { return std::make_unique<MemoryStore>(); }
};

BackendFactory memory_factory() {
  return BackendFactory{"memory", [] { return std::make_unique<MemoryBackend>(); },
                        /*persistent=*/false};
}

}  // namespace

OTPD_STORE_CONFORMANCE(Memory, (memory_factory()));

}  // namespace otpd::store::testing
