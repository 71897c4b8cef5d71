// The store URLs this build accepts: one table, so a message never offers a backend that
// is not compiled in.
#include <algorithm>
#include <array>

#include "config/reader.hpp"

namespace otpd::config {
namespace {

constexpr std::array<StoreKind, 6> kStores{{
    {"sqlite://", "sqlite://PATH"},
    {"redis://", "redis://[USER:PASSWORD@]HOST:PORT/DB"},
    {"rediss://", "rediss://[USER:PASSWORD@]HOST:PORT/DB"},
    {"redis-cluster://", "redis-cluster://HOST1:PORT1,HOST2:PORT2"},
    {"rediss-cluster://", "rediss-cluster://HOST1:PORT1,HOST2:PORT2"},
    {"dynamodb://", "dynamodb://TABLE?region=R&endpoint=URL"},
}};

}  // namespace

std::span<const StoreKind> supported_stores() { return kStores; }

namespace detail {

void check_store(const std::string& key, const std::string& value) {
  // The URL may carry a password (redis://:pw@host), so it is never echoed.
  for (const auto& store : supported_stores()) {
    if (value.starts_with(store.scheme)) {
      if (value.size() == store.scheme.size()) {
        fail(key, "nothing after \"" + std::string(store.scheme) + "\" (expected " +
                      std::string(store.form) + ")");
      }
      return;
    }
  }
  std::string forms;
  for (const auto& store : supported_stores()) {
    forms += (forms.empty() ? "" : ", ") + std::string(store.form);
  }
  // Only a plain scheme is echoed: anything else before "://" could be a password.
  const auto scheme_end = value.find("://");
  const bool plain_scheme =
      scheme_end != std::string::npos && scheme_end > 0 && scheme_end <= 32 &&
      std::all_of(value.begin(), value.begin() + static_cast<long>(scheme_end), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '+';
      });
  const std::string what = plain_scheme ? "the " + value.substr(0, scheme_end + 3) +
                                              " store is not available in this build"
                                        : "not a store URL";
  fail(key, what + " (this build supports: " + forms + ")");
}

}  // namespace detail
}  // namespace otpd::config
