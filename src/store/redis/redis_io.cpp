// RedisIo: the hop onto the store's threads and the parallel round trips.
#include "store/redis/redis_io.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "core/resume_on_caller.hpp"
#include "core/thread_name.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/slot.hpp"

namespace otpd::store::redis {
namespace {

namespace asio = boost::asio;

// Runs `task` on `io` (a store thread) and resumes the caller on its own executor with the
// result (or the exception), by the hand-back rules of core/resume_on_caller.hpp.
//
// Not plain asio::co_spawn(io, task, use_awaitable), nor a coroutine that co_awaits a post
// back to the caller: both leave the store thread holding copies of the caller's executor
// (a work guard, post's temporaries) after the caller may have resumed, finished and
// destroyed its io_context, as run_blocking and tests do.
template <typename T>
Task<T> hop(asio::io_context& io, Task<T> task) {
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                          void(std::exception_ptr, T)>(
      [&io](auto handler, Task<T> task) {
        asio::co_spawn(io, std::move(task), resume_on_caller(std::move(handler)));
      },
      asio::use_awaitable, std::move(task));
}

}  // namespace

Result<std::unique_ptr<RedisIo>> RedisIo::create(ClientOptions options, int threads) {
  const bool cluster = options.mode == ClientOptions::Mode::kCluster;
  auto client = Client::create(std::move(options));
  if (!client) return client.error();
  return std::unique_ptr<RedisIo>(new RedisIo(std::move(*client), std::max(1, threads), cluster));
}

RedisIo::RedisIo(std::shared_ptr<Client> client, int threads, bool cluster)
    : client_(std::move(client)), cluster_(cluster) {
  for (int i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
  }
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([io = contexts_[i].get(), i] {
      core::name_this_thread(("otpd-redis-" + std::to_string(i)).c_str());
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
}

RedisIo::~RedisIo() {
  // Each thread's connections are closed on that thread, which fails the calls still
  // pending there (posting their completions). Each context runs its handlers in order,
  // so a stop posted from a task posted after the close runs after those completions:
  // the calls' frames finish and let go of their connections before the threads end.
  // (Stopped at once, calls in flight to a node that is down kept their connections, and
  // those kept them, alive for good: a leak at every such shutdown.)
  client_->close();
  for (auto& context : contexts_) {
    asio::post(*context, [io = context.get()] { asio::post(*io, [io] { io->stop(); }); });
  }
  for (auto& thread : threads_) thread.join();
  client_.reset();
}

asio::io_context& RedisIo::next_context() {
  // Every call takes a context once, for one round trip (its parallel calls included).
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

Task<std::vector<Result<Reply>>> RedisIo::run_all(std::vector<Call> calls) {
  auto one = [client = client_](Call call) -> Task<Result<Reply>> {
    if (call.script != nullptr) {
      co_return co_await client->run_script(*call.script, std::move(call.keys),
                                            std::move(call.args));
    }
    co_return co_await client->command_for_keys(std::move(call.keys), std::move(call.args));
  };
  std::vector<Result<Reply>> results;
  if (calls.size() == 1) {
    results.push_back(co_await one(std::move(calls.front())));
    co_return results;
  }
  auto executor = co_await asio::this_coro::executor;
  struct Gather {
    Gather(asio::any_io_executor executor, std::size_t n)
        : results(n), left(n), done(executor, std::chrono::steady_clock::time_point::max()) {}
    std::vector<std::optional<Result<Reply>>> results;
    std::size_t left;
    asio::steady_timer done;
  };
  auto gather = std::make_shared<Gather>(executor, calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    asio::co_spawn(executor, one(std::move(calls[i])),
                   [gather, i](std::exception_ptr failure, Result<Reply> result) {
                     if (failure) {
                       result = Error{Errc::kProtocol, "redis call raised an exception"};
                     }
                     gather->results[i] = std::move(result);
                     if (--gather->left == 0) gather->done.cancel();
                   });
  }
  // Every call completes through the executor, so none has finished yet.
  if (gather->left > 0) co_await gather->done.async_wait(asio::as_tuple(asio::use_awaitable));
  results.reserve(calls.size());
  for (auto& r : gather->results) results.push_back(std::move(*r));
  co_return results;
}

Task<Result<std::vector<std::optional<std::string>>>> RedisIo::read(std::vector<Read> reads) {
  // Reads of one slot go in one script: one snapshot per slot.
  std::map<std::uint16_t, std::vector<std::size_t>> by_slot;
  for (std::size_t i = 0; i < reads.size(); ++i) by_slot[key_slot(reads[i].key)].push_back(i);
  std::vector<Call> calls;
  std::vector<const std::vector<std::size_t>*> order;
  for (const auto& [slot, indexes] : by_slot) {
    Call call;
    call.script = &read_script();
    for (std::size_t i : indexes) {
      call.keys.push_back(reads[i].key);
      call.args.push_back(reads[i].field);
    }
    calls.push_back(std::move(call));
    order.push_back(&indexes);
  }
  auto& io = next_context();
  auto replies = co_await hop(io, run_all(std::move(calls)));
  std::vector<std::optional<std::string>> values(reads.size());
  for (std::size_t c = 0; c < replies.size(); ++c) {
    if (!replies[c]) co_return replies[c].error();
    auto& elements = replies[c]->elements();
    const auto& indexes = *order[c];
    if (!replies[c]->is_array() || elements.size() != indexes.size()) {
      co_return Error{Errc::kProtocol, "unexpected reply to the read script"};
    }
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      if (elements[k].is_bulk()) values[indexes[k]] = std::move(elements[k]).take_str();
    }
  }
  co_return values;
}

Task<Result<RedisIo::Followed>> RedisIo::follow(Follow follow) {
  std::vector<std::string> keys{std::move(follow.index.key)};
  std::vector<std::string> args{std::move(follow.index.field), std::to_string(follow.format),
                                std::move(follow.key_head), std::move(follow.field_head)};
  auto reply = co_await script(follow_script(), std::move(keys), std::move(args));
  if (!reply) co_return reply.error();
  auto& elements = reply->elements();
  if (!reply->is_array() || elements.size() > 2) {
    co_return Error{Errc::kProtocol, "unexpected reply to the follow script"};
  }
  Followed out;
  if (!elements.empty() && elements[0].is_bulk()) out.entry = std::move(elements[0]).take_str();
  if (elements.size() == 2 && elements[1].is_bulk()) {
    out.target = std::move(elements[1]).take_str();
  }
  co_return out;
}

Result<RedisIo::Committed> RedisIo::committed(Result<Reply> reply) {
  if (!reply) return reply.error();
  const auto& e = reply->elements();
  if (!reply->is_array() || e.empty() || !e[0].is_integer()) {
    return Error{Errc::kProtocol, "unexpected reply to the commit script"};
  }
  Committed out;
  out.applied = e[0].integer() == 1;
  if (!out.applied) {
    if (e.size() < 2 || e[1].integer() < 1) {
      return Error{Errc::kProtocol, "unexpected reply to the commit script"};
    }
    out.failed_guard = static_cast<std::size_t>(e[1].integer() - 1);
    return out;
  }
  for (std::size_t i = 1; i < e.size(); ++i) out.results.push_back(e[i].integer());
  return out;
}

Task<Result<RedisIo::Committed>> RedisIo::commit(CommitBatch batch) {
  std::vector<CommitBatch> one;
  one.push_back(std::move(batch));
  auto all = co_await commit_all(std::move(one));
  co_return std::move(all.front());
}

Task<std::vector<Result<RedisIo::Committed>>> RedisIo::commit_all(
    std::vector<CommitBatch> batches) {
  std::vector<Call> calls;
  for (auto& batch : batches) {
    Call call;
    call.script = &commit_script();
    call.keys = batch.keys();
    call.args = batch.args();
    calls.push_back(std::move(call));
  }
  auto& io = next_context();
  auto replies = co_await hop(io, run_all(std::move(calls)));
  std::vector<Result<Committed>> out;
  for (auto& reply : replies) out.push_back(committed(std::move(reply)));
  co_return out;
}

Task<Result<Reply>> RedisIo::command(std::vector<std::string> keys, std::vector<std::string> args) {
  std::vector<Command> one;
  one.push_back(Command{std::move(keys), std::move(args)});
  auto all = co_await commands(std::move(one));
  co_return std::move(all.front());
}

Task<std::vector<Result<Reply>>> RedisIo::commands(std::vector<Command> commands) {
  std::vector<Call> calls;
  for (auto& c : commands) calls.push_back(Call{nullptr, std::move(c.keys), std::move(c.args)});
  auto& io = next_context();
  co_return co_await hop(io, run_all(std::move(calls)));
}

Task<Result<Reply>> RedisIo::script(const Script& script, std::vector<std::string> keys,
                                    std::vector<std::string> args) {
  std::vector<Call> calls;
  calls.push_back(Call{&script, std::move(keys), std::move(args)});
  auto& io = next_context();
  auto replies = co_await hop(io, run_all(std::move(calls)));
  co_return std::move(replies.front());
}

Task<std::vector<Result<Reply>>> RedisIo::scripts(const Script& script,
                                                  std::vector<Command> commands) {
  std::vector<Call> calls;
  for (auto& c : commands) calls.push_back(Call{&script, std::move(c.keys), std::move(c.args)});
  auto& io = next_context();
  co_return co_await hop(io, run_all(std::move(calls)));
}

Task<Result<void>> RedisIo::ping() {
  auto& io = next_context();
  // Any master answering is enough: a Cluster with one master down still serves the
  // other slots, and every instance would see the same, so none should leave the load
  // balancer for it.
  auto client = client_;
  co_return co_await hop(io, client->ping(Client::PingScope::kAny));
}

}  // namespace otpd::store::redis
