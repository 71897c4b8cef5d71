// The one error model of the Redis client: every call returns Result<T>, whose error says
// whether the request can have run (kTimeout, kProtocol), surely did not (kUnavailable),
// or ran and was refused by the server (kServerError, with the server's text kept).
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <string_view>

namespace otpd::store::redis {

enum class Errc {
  // Not sent, or sent and known not to have run: no connection (refused, down, backing
  // off after a failure), the in-flight bound reached, the slot served by no node, or a
  // server that answered TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN or READONLY. Safe to
  // retry later.
  kUnavailable = 1,
  // Sent, but no reply within the request timeout, or the connection was lost before the
  // reply came: the command may or may not have run.
  kTimeout,
  // The server sent bytes that are not RESP2, or a reply larger than the bound; the
  // connection is closed. The command may have run.
  kProtocol,
  // The server ran the command and answered an error reply; `Error::message` is its text
  // ("ERR ...", "NOSCRIPT ...", "BUSY ...", "WRONGTYPE ...", a Lua error_reply...).
  kServerError,
  // The caller's mistake, found before anything was sent: an empty command, keys of one
  // command in different hash slots, a malformed URL or option.
  kInvalidArgument,
};

const boost::system::error_category& redis_category();
boost::system::error_code make_error_code(Errc e);

struct Error {
  Errc code = Errc::kUnavailable;
  // For kServerError the server's whole error line; otherwise a reason for logs, naming
  // the node as host:port. Never holds a password.
  std::string message;

  // The store cannot be reached right now (kUnavailable or kTimeout): answer 503.
  bool is_unavailable() const { return code == Errc::kUnavailable || code == Errc::kTimeout; }
  // kServerError whose first word is `prefix` (e.g. "NOSCRIPT", "BUSY", "ERR").
  bool is_server_error(std::string_view prefix) const;
  // The first word of `message` ("NOSCRIPT"), empty unless kServerError.
  std::string_view server_error_prefix() const;
  boost::system::error_code to_error_code() const { return make_error_code(code); }
};

template <typename T>
using Result = boost::system::result<T, Error>;

// What boost::system::result::value() throws on an Error: a system_error with the message.
[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& location);

}  // namespace otpd::store::redis

namespace boost::system {
template <>
struct is_error_code_enum<otpd::store::redis::Errc> : std::true_type {};
}  // namespace boost::system
