// The "otpd.store" error category: how every backend reports its own failures.
#include "store/store.hpp"

namespace otpd::store {
namespace {

class StoreCategory final : public boost::system::error_category {
 public:
  // A fixed id lets error codes compare equal across shared-library boundaries.
  constexpr StoreCategory() noexcept : boost::system::error_category(0x6f747064'73746f72ULL) {}

  const char* name() const noexcept override { return "otpd.store"; }

  std::string message(int ev) const override {
    switch (static_cast<StoreErrc>(ev)) {
      case StoreErrc::kUnavailable:
        return "store unavailable";
      case StoreErrc::kSchemaMissing:
        return "store schema missing or out of date";
      case StoreErrc::kCorrupt:
        return "store returned undecodable data";
    }
    return "unknown store error";
  }
};

}  // namespace

const boost::system::error_category& store_category() {
  static const StoreCategory category;
  return category;
}

boost::system::error_code make_error(StoreErrc e) {
  return boost::system::error_code(static_cast<int>(e), store_category());
}

Result<void> Store::finish_deliveries(const std::vector<FinishedDelivery>& done) {
  Result<void> first_failure;
  for (const auto& d : done) {
    auto r = finish_delivery(d.tenant, d.id, d.outcome);
    if (!r && first_failure) first_failure = r;
  }
  return first_failure;
}

}  // namespace otpd::store
