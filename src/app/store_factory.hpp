// Opens the Store named by the config's `store` URL.
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace otpd::app {

struct OpenedStore {
  std::unique_ptr<store::Store> store;
  bool is_new = false;  // an empty embedded database that `serve` may initialise itself
};

// Throws std::runtime_error naming the `store` key for unsupported or unreachable stores.
OpenedStore open_store(const std::string& url);

}  // namespace otpd::app
