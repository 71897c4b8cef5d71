// One text encoding of a verification, for backends that keep a verification as a value
// (an idempotency record's first answer, a Redis or DynamoDB item) rather than as columns:
// each backend then stores the same bytes instead of writing its own field mapping.
#pragma once

#include <string>
#include <string_view>

#include "core/verification.hpp"
#include "store/store.hpp"

namespace otpd::store {

// Compact JSON with every field; times as Unix milliseconds, enums by their wire names.
std::string encode_verification(const core::Verification& v);
// kCorrupt when `text` is not what encode_verification writes.
Result<core::Verification> decode_verification(std::string_view text);

}  // namespace otpd::store
