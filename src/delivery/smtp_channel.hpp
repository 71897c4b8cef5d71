// The SMTP email channel of the README's Channels: implicit TLS (smtps://), required
// STARTTLS (smtp://...?tls=starttls) or opportunistic STARTTLS (plain smtp://), AUTH PLAIN
// or LOGIN, and a MIME message built from the rendered templates.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "delivery/channel.hpp"

namespace otpd::delivery {

class SmtpChannel final : public Channel {
 public:
  // The whole exchange of one message, from resolving the host to the reply to QUIT.
  static constexpr std::chrono::milliseconds kDefaultTimeout{30000};

  // `url`: smtps://[user[:pass]@]host[:port] (port 465), smtp://[user[:pass]@]host[:port]
  // (port 25) with an optional ?tls=starttls; user and password are percent-decoded.
  // `from`: "Name <address>" or "address". Throws std::invalid_argument naming the problem
  // when either is unusable.
  SmtpChannel(boost::asio::any_io_executor executor, const core::TimeSource& clock, std::string url,
              std::string from);
  // The same with another deadline for the exchange (tests use a short one).
  SmtpChannel(boost::asio::any_io_executor executor, const core::TimeSource& clock, std::string url,
              std::string from, std::chrono::milliseconds timeout);
  ~SmtpChannel() override;

  // One connection per message (OTP mail is one message at a time, and a pooled SMTP
  // session would need RSET and liveness handling for little gain). The server accepting
  // the DATA -> delivered; a 4xx reply, a network or TLS failure or the deadline ->
  // transient; a 5xx reply, STARTTLS required but not offered, or credentials that would
  // travel unencrypted to a host other than loopback -> permanent. The detail names the
  // SMTP stage and reply code only (servers echo recipients in their reply text).
  boost::asio::awaitable<Attempt> deliver(const Message& message) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otpd::delivery
