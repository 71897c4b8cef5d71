// The Redis client's error category and the helpers of its Error value.
#include "store/redis/error.hpp"

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

namespace otpd::store::redis {
namespace {

class RedisCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::kUnavailable:
        return "redis unavailable";
      case Errc::kTimeout:
        return "redis request timed out";
      case Errc::kProtocol:
        return "redis protocol error";
      case Errc::kServerError:
        return "redis error reply";
      case Errc::kInvalidArgument:
        return "invalid redis request";
    }
    return "unknown redis error";
  }
};

}  // namespace

const boost::system::error_category& redis_category() {
  static const RedisCategory category;
  return category;
}

boost::system::error_code make_error_code(Errc e) {
  return {static_cast<int>(e), redis_category()};
}

std::string_view Error::server_error_prefix() const {
  if (code != Errc::kServerError) return {};
  std::string_view text = message;
  return text.substr(0, text.find(' '));
}

bool Error::is_server_error(std::string_view prefix) const {
  return code == Errc::kServerError && server_error_prefix() == prefix;
}

void throw_exception_from_error(const Error& error, const boost::source_location& location) {
  boost::throw_exception(boost::system::system_error(error.to_error_code(), error.message),
                         location);
}

}  // namespace otpd::store::redis
