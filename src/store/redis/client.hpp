// The Redis client otpd's Redis store is written on: standalone Redis or Redis Cluster,
// plain or TLS, over Asio with pipelined connections, one set of connections per I/O
// thread. Every call is a coroutine that completes within a bounded time with a Reply or
// an Error (error.hpp); nothing here throws for a network or server failure.
//
// Threading: one Client per process, shared by all I/O threads. Each calling io_context
// gets its own connections (one per node) and, for a Cluster, its own slot map, created
// on its first call, so the hot path takes no lock and shares nothing between threads.
//   REQUIRES: every io_context that calls the Client is run by exactly one thread (the
//   connections of an io_context belong to the thread that first called from it; a call
//   from another thread throws std::logic_error). Callers may be on a strand of it.
//   REQUIRES: the io_contexts the Client was called from outlive it. It may be destroyed
//   on any thread: ~Client posts each io_context's shutdown (its connections close; calls
//   still pending there fail with kUnavailable) to that io_context. Every call holds a
//   reference to the Client, so the last reference may be dropped while calls are pending.
// All methods may be called concurrently from any such thread. Arguments are taken by
// value; nothing the caller passes is referenced after the call returns, except the
// Script of run_script, which must outlive the call (typically a static).
//
// Cluster: commands are routed by the hash slot of their key(s), and all keys of one call
// must share a slot (a {hash tag}); this is checked in standalone mode too, so code tested
// on one server runs on a Cluster unchanged. MOVED updates the slot and retries on the
// named node (the whole map is re-read in the background); ASK sends ASKING + the command
// to the named node once; at most 5 redirections per call. TRYAGAIN, CLUSTERDOWN, an
// unreachable node: kUnavailable for that call only, other slots keep working.
//
// Bounds: a call completes within about request_timeout per node it is sent to (at most
// 1 + 5 redirections; a missing slot map is first fetched, asking node after node for at
// most one more timeout); max_in_flight commands per connection; replies up to
// max_reply_bytes; connections per thread: one per node.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/task.hpp"
#include "store/redis/error.hpp"
#include "store/redis/options.hpp"
#include "store/redis/reply.hpp"
#include "store/redis/script.hpp"

namespace boost::asio::ssl {
class context;
}

namespace otpd::store::redis {

class NodeRouter;

template <typename T>
concept CommandArg = std::is_convertible_v<const T&, std::string_view>;

class Client : public std::enable_shared_from_this<Client> {
 public:
  // Builds the client; connects lazily, on the first call of each thread. Fails
  // (kInvalidArgument) only when the options are unusable: no endpoint, or a TLS trust
  // file that cannot be loaded.
  static Result<std::shared_ptr<Client>> create(ClientOptions options);
  // Closes every connection, each on its own thread; calls still pending there fail
  // (kUnavailable), and later calls fail at once. The owner of the threads calls it before
  // stopping them: a call in flight would otherwise keep its connection, and through it
  // this client, alive past them. Idempotent; the destructor calls it too.
  void close();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs one command, e.g. {"SET", key, value, "PX", "30000"}. Cluster: routed by args[1]
  // (the key of GET, SET, INCR, HSET, EXPIRE, DEL k...), or to any node when there is no
  // args[1]; for other shapes use command_for_keys(). Success: the reply, never a
  // top-level error reply (an array may still hold error elements, as EXEC's does).
  // Failure: an Error; a server error reply is kServerError with its text.
  Task<Result<Reply>> command(std::vector<std::string> args);

  // The same, spelled command("SET", key, value). GCC 12 cannot compile a braced list
  // that lives across a co_await ("array used as initializer"): `co_await
  // client.command({"GET", key})` fails to build, so use this form, or build the vector
  // (and the keys and args of run_script, pipeline) in a statement of its own first.
  template <CommandArg First, CommandArg... Rest>
  Task<Result<Reply>> command(const First& first, const Rest&... rest) {
    std::vector<std::string> list;
    list.reserve(1 + sizeof...(Rest));
    list.emplace_back(std::string_view(first));
    (list.emplace_back(std::string_view(rest)), ...);
    return command(std::move(list));
  }

  // Runs `args`, routed by `keys` (which must share one slot; none: any node). `keys` are
  // only for routing and the slot check: they must also appear in `args` where the
  // command expects them, e.g. command_for_keys({"{u}a", "{u}b"}, {"MGET", "{u}a", "{u}b"}).
  Task<Result<Reply>> command_for_keys(std::vector<std::string> keys,
                                       std::vector<std::string> args);

  // EVALSHA script.sha1() with `keys` (KEYS[...], which must share one slot) and `args`
  // (ARGV[...]). A node that answers NOSCRIPT (restarted, SCRIPT FLUSH, a new node) gets
  // SCRIPT LOAD and the EVALSHA again, once, on the same connection. Success: the
  // script's return value; redis.error_reply("X ...") or a Lua runtime error come back as
  // kServerError with the text. A script that never ends holds its node: other calls to
  // it get BUSY (kServerError) until SCRIPT KILL.
  Task<Result<Reply>> run_script(const Script& script, std::vector<std::string> keys,
                                 std::vector<std::string> args);

  // Sends `commands` back to back on one connection, in order, in one round trip, and
  // returns one result per command, in order. Cluster: each command is routed by its
  // args[1] like command(), and all must map to one slot (checked in standalone mode
  // too, so a SELECT or CONFIG argument counts as a key here). The outer error is for the
  // batch as a whole (kInvalidArgument, or the connection failed: none or some may have
  // run). A command answered MOVED/ASK (its slot is moving) is re-sent alone to the node
  // named, after the batch, so during a slot migration such commands can run after the
  // ones that followed them. Not a transaction: use a script for atomicity.
  Task<Result<std::vector<Result<Reply>>>> pipeline(std::vector<std::vector<std::string>> commands);

  // PING on the server, or on every master of the current slot map in parallel. Success
  // when every one answers PONG (kEvery) or when at least one does (kAny); the error names
  // the first node that did not.
  enum class PingScope { kEvery, kAny };
  Task<Result<void>> ping(PingScope scope = PingScope::kEvery);

  // The URL this client was built from, with the password masked: for logs.
  std::string redacted_url() const { return options_.redacted_url(); }

 private:
  explicit Client(ClientOptions options, std::shared_ptr<boost::asio::ssl::context> tls);
  // This thread's router; nullptr once the client is closed.
  NodeRouter* router_for(const boost::asio::any_io_executor& executor);

  struct PerContext;
  ClientOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::uint64_t id_;
  std::atomic<bool> closed_{false};
  std::mutex mutex_;  // guards contexts_ only: taken on a thread's first call, not after
  std::vector<std::unique_ptr<PerContext>> contexts_;
};

}  // namespace otpd::store::redis
