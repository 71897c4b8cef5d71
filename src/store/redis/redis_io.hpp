// The Redis store's round trips: its own I/O threads, the client on them, and the few
// shapes of call the store makes (a snapshot read over several slots, a compare-and-set
// commit, several commits at once).
//
// Why threads of its own: the client requires each io_context that calls it to be run by
// exactly one thread (its connections belong to that thread), while a caller of the store
// may run an io_context on many threads (`otpd serve` does) or create and destroy
// io_contexts freely (tests, start-up checks). So every call hops onto one of the store's
// threads, runs there, and completes on the caller's executor: decisions, encoding and
// the code matcher stay on the caller's threads, only the Redis I/O moves. The hop costs
// two handoffs per round trip; see docs/performance.md.
//
// Thread safety: every method may be called from any thread, concurrently.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/task.hpp"
#include "store/redis/client.hpp"
#include "store/redis/commit_batch.hpp"

namespace otpd::store::redis {

class RedisIo {
 public:
  // Starts `threads` I/O threads (at least 1); the client connects lazily.
  static Result<std::unique_ptr<RedisIo>> create(ClientOptions options, int threads);
  // Closes the connections and joins the threads. Calls still waiting on a connection then
  // fail (kUnavailable); what is left of them when the threads stop is destroyed with the
  // threads' io_contexts, never resumed.
  ~RedisIo();
  RedisIo(const RedisIo&) = delete;
  RedisIo& operator=(const RedisIo&) = delete;

  struct Read {
    std::string key;
    std::string field;  // empty: the key is a string
  };
  // The values (nullopt when absent) in the order asked. Reads of one slot are one
  // snapshot (one script); different slots are read in parallel.
  Task<Result<std::vector<std::optional<std::string>>>> read(std::vector<Read> reads);

  // An index entry of `format` and, in the same step, the hash field it names, whose key and
  // field begin with `key_head` and `field_head` (scripts.hpp's follow script): `target` is
  // read only when `entry` is there and of that format.
  struct Follow {
    Read index;
    std::uint8_t format = 0;
    std::string key_head;
    std::string field_head;
  };
  struct Followed {
    std::optional<std::string> entry;
    std::optional<std::string> target;
  };
  Task<Result<Followed>> follow(Follow follow);

  struct Committed {
    bool applied = false;
    std::size_t failed_guard = 0;    // 0-based, when not applied
    std::vector<long long> results;  // per write, when applied: increments' new counts
  };
  Task<Result<Committed>> commit(CommitBatch batch);
  // Each batch on its own slot, all at once; one result per batch, in order.
  Task<std::vector<Result<Committed>>> commit_all(std::vector<CommitBatch> batches);

  // A plain command routed by `keys` (see Client::command_for_keys).
  Task<Result<Reply>> command(std::vector<std::string> keys, std::vector<std::string> args);
  // Several commands, each routed by its own keys, all at once.
  struct Command {
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  Task<std::vector<Result<Reply>>> commands(std::vector<Command> commands);
  Task<Result<Reply>> script(const Script& script, std::vector<std::string> keys,
                             std::vector<std::string> args);
  // `script` once per entry of `calls`, each on its own slot, all at once.
  Task<std::vector<Result<Reply>>> scripts(const Script& script, std::vector<Command> calls);
  // Success when the server, or at least one master of a Cluster, answers.
  Task<Result<void>> ping();

  bool cluster() const { return cluster_; }
  // How many round trips the calls above have made so far (calls run at once count as one):
  // what tests and docs count an operation's cost in.
  std::uint64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }

 private:
  struct Call {
    const Script* script = nullptr;  // null: a command
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };

  RedisIo(std::shared_ptr<Client> client, int threads, bool cluster);
  boost::asio::io_context& next_context();
  // Runs `calls` concurrently on the current (store) thread.
  Task<std::vector<Result<Reply>>> run_all(std::vector<Call> calls);
  static Result<Committed> committed(Result<Reply> reply);

  std::shared_ptr<Client> client_;
  bool cluster_;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::uint64_t> round_trips_{0};
};

}  // namespace otpd::store::redis
