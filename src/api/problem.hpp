// RFC 9457 problem+json bodies: the one shape every error of the API takes.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "api/message.hpp"

namespace otpd::api {

// {"type":"about:blank","title":..,"status":..,"code":..,"detail":..} plus `extras`.
// A Retry-After header is added when retry_after_seconds > 0.
Response problem(int status, std::string_view code, std::string_view detail,
                 const boost::json::object& extras = {}, long long retry_after_seconds = 0);

// The standard reason phrase for a status ("Unprocessable Content" for 422...).
std::string_view reason_phrase(int status);

}  // namespace otpd::api
