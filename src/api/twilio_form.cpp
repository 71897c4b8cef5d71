// Form decoding on Boost.URL.
#include "api/twilio_form.hpp"

#include <boost/url/parse_query.hpp>

namespace otpd::api {

std::optional<FormParams> FormParams::parse(std::string_view text) {
  FormParams form;
  if (text.empty()) return form;
  auto params = boost::urls::parse_query(text);
  if (!params) return std::nullopt;
  boost::urls::encoding_opts plus_is_space;
  plus_is_space.space_as_plus = true;
  for (auto param : *params) {
    form.params_.emplace_back(param.key.decode(plus_is_space),
                              param.has_value ? param.value.decode(plus_is_space) : std::string());
  }
  return form;
}

std::optional<std::string> FormParams::get(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) return value;
  }
  return std::nullopt;
}

}  // namespace otpd::api
