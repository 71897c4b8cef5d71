// The console channel, for development: prints each message as one JSON line on stdout.
// It is a delivery, not a log line, and is refused at start on a non-loopback listener.
#pragma once

#include <cstdio>

#include "delivery/channel.hpp"

namespace otpd::delivery {

class ConsoleChannel final : public Channel {
 public:
  explicit ConsoleChannel(std::FILE* out = stdout) : out_(out) {}
  // Writes {"channel":"console","tenant","id","to","code","message"} and flushes.
  boost::asio::awaitable<Attempt> deliver(const Message& message) override;

 private:
  std::FILE* out_;
};

}  // namespace otpd::delivery
