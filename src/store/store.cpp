// The "otpd.store" error category, and StoreWrapper's forwarding.
#include "store/store.hpp"

#include <utility>

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

Task<Result<StartOutcome>> StoreWrapper::start(StartRequest request) {
  co_return co_await target_.start(std::move(request));
}
Task<Result<core::CheckDecision>> StoreWrapper::check(CheckRequest request) {
  co_return co_await target_.check(std::move(request));
}
Task<Result<std::optional<core::Verification>>> StoreWrapper::get(core::TenantId tenant,
                                                                  core::VerificationId id) {
  co_return co_await target_.get(std::move(tenant), std::move(id));
}
Task<Result<core::TransitionDecision>> StoreWrapper::transition(TransitionRequest request) {
  co_return co_await target_.transition(std::move(request));
}
Task<Result<TokenOutcome>> StoreWrapper::take_token(core::TokenSpec spec, core::TimePoint now) {
  co_return co_await target_.take_token(std::move(spec), now);
}
Task<Result<std::vector<DeliveryJob>>> StoreWrapper::take_due(TakeRequest request) {
  co_return co_await target_.take_due(std::move(request));
}
Task<Result<void>> StoreWrapper::finish(std::vector<FinishedDelivery> done) {
  co_return co_await target_.finish(std::move(done));
}
Task<Result<void>> StoreWrapper::retry(core::TenantId tenant, core::VerificationId id,
                                       core::TimePoint next_attempt) {
  co_return co_await target_.retry(std::move(tenant), std::move(id), next_attempt);
}
Task<Result<std::size_t>> StoreWrapper::depth() { co_return co_await target_.depth(); }
Task<Result<void>> StoreWrapper::init_schema() { co_return co_await target_.init_schema(); }
Task<Result<std::optional<std::string>>> StoreWrapper::schema_problem() {
  co_return co_await target_.schema_problem();
}
Task<Result<void>> StoreWrapper::ping() { co_return co_await target_.ping(); }
Task<Result<std::size_t>> StoreWrapper::sweep(core::TimePoint now, core::Seconds counter_horizon) {
  co_return co_await target_.sweep(now, counter_horizon);
}

}  // namespace otpd::store
