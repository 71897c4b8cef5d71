// The OpenAPI document (docs/openapi.json), embedded at build time.
#pragma once

#include <string_view>

namespace otpd::app {
std::string_view openapi_json();
}
