// One I/O thread's view of the Redis deployment: its connections (one per node) and, for a
// Cluster, its copy of the slot map. Routes a command to the node serving its slot and
// follows MOVED and ASK; reloads a script the node lost (NOSCRIPT). Owned by one thread, so
// nothing in it is locked; each thread keeps its own map and refreshes it itself.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/task.hpp"
#include "store/redis/connection.hpp"
#include "store/redis/error.hpp"
#include "store/redis/options.hpp"
#include "store/redis/reply.hpp"
#include "store/redis/script.hpp"

namespace otpd::store::redis {

// One keyed command as it goes on the wire; for an EVALSHA, the script to SCRIPT LOAD
// first when the node answers NOSCRIPT.
struct Call {
  std::string command;
  const Script* script = nullptr;
};

// How a top-level error reply becomes an Error: TRYAGAIN, CLUSTERDOWN, LOADING,
// MASTERDOWN and READONLY mean the command did not run and the node cannot take it now
// (kUnavailable); any other error reply is kServerError with the server's text.
Result<Reply> reply_to_result(Reply reply);

class NodeRouter : public std::enable_shared_from_this<NodeRouter> {
 public:
  using Executor = boost::asio::io_context::executor_type;

  NodeRouter(Executor executor, const ClientOptions& options,
             std::shared_ptr<boost::asio::ssl::context> tls);
  NodeRouter(const NodeRouter&) = delete;
  NodeRouter& operator=(const NodeRouter&) = delete;

  // Runs `call` on the node serving `slot` (any node when nullopt), following at most
  // kMaxRedirects MOVED/ASK replies. The reply comes back through reply_to_result().
  Task<Result<Reply>> run(std::optional<std::uint16_t> slot, const Call& call);
  // Writes `count` encoded commands to the node serving `slot` as one batch, once, and
  // returns their raw replies (MOVED/ASK included, for the caller to follow).
  Task<Result<std::vector<Reply>>> run_batch(std::optional<std::uint16_t> slot,
                                             std::string commands, std::size_t count);
  // PING on the server, or on every master of the slot map, concurrently. With `any`, one
  // PONG is enough.
  Task<Result<void>> ping_all(bool any = false);
  // Closes every connection (pending requests fail with kUnavailable).
  void close();

  static constexpr int kMaxRedirects = 5;

 private:
  struct SlotMap {
    std::vector<Endpoint> nodes;       // the masters
    std::vector<std::uint16_t> owner;  // per slot: index into nodes, or kNoOwner
  };
  static constexpr std::uint16_t kNoOwner = 0xffff;

  std::shared_ptr<Connection> connection(const Endpoint& endpoint);
  Task<Result<std::shared_ptr<Connection>>> connection_for(std::optional<std::uint16_t> slot);
  Task<Result<void>> refresh();
  void schedule_refresh();
  void learn_moved(std::uint16_t slot, const Endpoint& endpoint);
  void check_thread() const;

  Executor executor_;
  ClientOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::thread::id owner_;
  bool cluster_;
  std::unordered_map<std::string, std::shared_ptr<Connection>> connections_;
  std::optional<SlotMap> map_;
  bool refreshing_ = false;
  boost::asio::steady_timer refreshed_;  // never expires; cancel() wakes refresh waiters
  std::optional<Error> refresh_error_;
  std::chrono::steady_clock::time_point last_refresh_{};
  std::size_t next_any_ = 0;
  bool closed_ = false;
};

}  // namespace otpd::store::redis
