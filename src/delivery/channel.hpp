// The Channel port: one way of getting a message to a person (console, webhook, email, sms).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "core/types.hpp"

namespace otpd::delivery {

// Everything a channel may need, already rendered from the tenant's templates. It holds
// the plaintext recipient and code, so it lives only in memory during an attempt.
struct Message {
  core::TenantId tenant;
  core::VerificationId id;
  core::ChannelKind channel = core::ChannelKind::kConsole;
  std::string to;    // normalised recipient, plaintext
  std::string code;  // plaintext
  std::string locale;
  core::TimePoint expires_at;
  std::string subject;  // email only
  std::string text;     // the message body (SMS text, email text part, webhook "message")
  std::string html;     // email only; may be empty
};

enum class AttemptResult {
  kDelivered,  // the provider accepted it
  kTransient,  // worth retrying (network error, 5xx, 429)
  kPermanent,  // will not succeed by retrying (4xx, bad address, redirect)
};

struct Attempt {
  AttemptResult result = AttemptResult::kTransient;
  std::string detail;  // for logs: must never contain the code or the recipient
};

class Channel {
 public:
  virtual ~Channel() = default;
  // Makes one delivery attempt. Runs on the I/O executor; must not block it.
  virtual boost::asio::awaitable<Attempt> deliver(const Message& message) = 0;
};

}  // namespace otpd::delivery
