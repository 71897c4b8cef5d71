// Form-encoded parameters (application/x-www-form-urlencoded bodies and query strings) as
// Twilio's API takes them: names are case-sensitive ("To", "Channel"), '+' is a space.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpd::api {

class FormParams {
 public:
  // nullopt when `text` is not valid form encoding (a bad percent-escape).
  static std::optional<FormParams> parse(std::string_view text);

  // The first value of `name`, decoded.
  std::optional<std::string> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return params_; }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

}  // namespace otpd::api
