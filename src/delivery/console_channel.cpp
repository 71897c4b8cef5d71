// The console channel: one JSON line per message on a FILE*, for development.
#include "delivery/console_channel.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>

namespace otpd::delivery {
namespace {

// One lock for every console channel: they usually share stdout, and a line must never
// be interleaved with another thread's.
std::mutex& console_mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

boost::asio::awaitable<Attempt> ConsoleChannel::deliver(const Message& message) {
  boost::json::object o;
  o["channel"] = "console";
  o["tenant"] = message.tenant.str();
  o["id"] = message.id.str();
  o["to"] = message.to;
  o["code"] = message.code;
  o["message"] = message.text;
  std::string line = boost::json::serialize(o);
  line.push_back('\n');

  bool ok = false;
  {
    std::lock_guard lock(console_mutex());
    ok = std::fwrite(line.data(), 1, line.size(), out_) == line.size();
    ok = std::fflush(out_) == 0 && ok;
  }
  // A closed or full stdout may come back (a pipe reader restarting): worth a retry.
  if (!ok) co_return Attempt{AttemptResult::kTransient, "console write failed"};
  co_return Attempt{AttemptResult::kDelivered, "written to console"};
}

}  // namespace otpd::delivery
