// Client: per-io_context routers behind a lock-free per-thread cache, the slot checks,
// and the encoding of commands, scripts and pipelines.
#include "store/redis/client.hpp"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <optional>
#include <stdexcept>
#include <utility>

#include "store/redis/node_router.hpp"
#include "store/redis/resp.hpp"
#include "store/redis/slot.hpp"

namespace otpd::store::redis {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

std::atomic<std::uint64_t> next_client_id{1};

// The router the current thread used last, so a thread's calls skip the lock. Keyed by a
// client id that is never reused, so an entry left by a destroyed client never matches.
struct RouterCache {
  std::uint64_t client = 0;
  const asio::execution_context* context = nullptr;
  NodeRouter* router = nullptr;
};
thread_local RouterCache cache;

Error invalid(std::string what) { return Error{Errc::kInvalidArgument, std::move(what)}; }
Error closed_error() { return Error{Errc::kUnavailable, "redis client closed"}; }

// The one slot all `keys` hash to; nullopt without keys.
Result<std::optional<std::uint16_t>> common_slot(const std::vector<std::string>& keys) {
  std::optional<std::uint16_t> slot;
  for (const auto& key : keys) {
    const auto s = key_slot(key);
    if (slot && *slot != s) {
      return invalid("keys of one call map to different hash slots; give them one {hash tag}");
    }
    slot = s;
  }
  return slot;
}

}  // namespace

struct Client::PerContext {
  const asio::execution_context* context = nullptr;
  asio::io_context* io = nullptr;
  std::shared_ptr<NodeRouter> router;
};

Result<std::shared_ptr<Client>> Client::create(ClientOptions options) {
  if (options.endpoints.empty()) return invalid("no Redis endpoint");
  if (options.mode == ClientOptions::Mode::kStandalone && options.endpoints.size() != 1) {
    return invalid("a standalone Redis client takes exactly one endpoint");
  }
  if (options.request_timeout.count() <= 0) return invalid("request timeout must be positive");
  if (options.max_in_flight == 0) return invalid("max_in_flight must be at least 1");
  std::shared_ptr<ssl::context> tls;
  if (options.tls) {
    tls = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    tls->set_default_verify_paths(ec);
    if (ec) return invalid("cannot load the system trust store: " + ec.message());
    if (!options.ca_file.empty()) {
      tls->load_verify_file(options.ca_file, ec);
      if (ec) return invalid("cannot load ca_file " + options.ca_file + ": " + ec.message());
    }
  }
  return std::shared_ptr<Client>(new Client(std::move(options), std::move(tls)));
}

Client::Client(ClientOptions options, std::shared_ptr<ssl::context> tls)
    : options_(std::move(options)), tls_(std::move(tls)), id_(next_client_id++) {}

Client::~Client() { close(); }

void Client::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  // Each router's connections belong to its thread: close them there. The router goes
  // with the task, so this client keeps none: whenever its last reference goes (a caller's
  // frame may outlive the threads), there is nothing left to touch their io_contexts.
  std::lock_guard lock(mutex_);
  for (auto& per_context : contexts_) {
    asio::post(*per_context->io, [router = std::move(per_context->router)] { router->close(); });
  }
}

NodeRouter* Client::router_for(const asio::any_io_executor& executor) {
  // A closed client has handed its routers over to their threads' close tasks. (A router
  // found in the cache just as close() runs is still safe to use: its close task runs on
  // this same thread, after this call has been sent, and fails it.)
  if (closed_.load(std::memory_order_acquire)) return nullptr;
  const auto& context = asio::query(executor, asio::execution::context);
  if (cache.client == id_ && cache.context == &context) return cache.router;
  std::lock_guard lock(mutex_);
  if (closed_.load(std::memory_order_relaxed)) return nullptr;  // close() moves under mutex_
  NodeRouter* router = nullptr;
  for (const auto& per_context : contexts_) {
    if (per_context->context == &context) router = per_context->router.get();
  }
  if (router == nullptr) {
    asio::io_context* io = nullptr;
    using IoExecutor = asio::io_context::executor_type;
    if (const auto* plain = executor.target<IoExecutor>()) {
      io = &plain->context();
    } else if (const auto* strand = executor.target<asio::strand<IoExecutor>>()) {
      io = &strand->get_inner_executor().context();
    }
    if (io == nullptr) {
      throw std::logic_error("redis::Client must be called from a coroutine on an io_context");
    }
    auto per_context = std::make_unique<PerContext>();
    per_context->context = &context;
    per_context->io = io;
    per_context->router = std::make_shared<NodeRouter>(io->get_executor(), options_, tls_);
    router = per_context->router.get();
    contexts_.push_back(std::move(per_context));
  }
  cache = RouterCache{id_, &context, router};
  return router;
}

Task<Result<Reply>> Client::command(std::vector<std::string> args) {
  if (args.empty()) co_return invalid("empty command");
  auto self = shared_from_this();
  NodeRouter* router = router_for(co_await asio::this_coro::executor);
  if (router == nullptr) co_return closed_error();
  std::optional<std::uint16_t> slot;
  if (args.size() > 1) slot = key_slot(args[1]);
  Call call;
  append_command(call.command, args);
  co_return co_await router->run(slot, call);
}

Task<Result<Reply>> Client::command_for_keys(std::vector<std::string> keys,
                                             std::vector<std::string> args) {
  if (args.empty()) co_return invalid("empty command");
  auto slot = common_slot(keys);
  if (!slot) co_return slot.error();
  auto self = shared_from_this();
  NodeRouter* router = router_for(co_await asio::this_coro::executor);
  if (router == nullptr) co_return closed_error();
  Call call;
  append_command(call.command, args);
  co_return co_await router->run(*slot, call);
}

Task<Result<Reply>> Client::run_script(const Script& script, std::vector<std::string> keys,
                                       std::vector<std::string> args) {
  auto slot = common_slot(keys);
  if (!slot) co_return slot.error();
  auto self = shared_from_this();
  NodeRouter* router = router_for(co_await asio::this_coro::executor);
  if (router == nullptr) co_return closed_error();
  Call call;
  call.script = &script;
  append_array_header(call.command, 3 + keys.size() + args.size());
  append_bulk(call.command, "EVALSHA");
  append_bulk(call.command, script.sha1());
  append_bulk(call.command, std::to_string(keys.size()));
  for (const auto& key : keys) append_bulk(call.command, key);
  for (const auto& arg : args) append_bulk(call.command, arg);
  co_return co_await router->run(*slot, call);
}

Task<Result<std::vector<Result<Reply>>>> Client::pipeline(
    std::vector<std::vector<std::string>> commands) {
  std::vector<std::string> keys;
  for (const auto& args : commands) {
    if (args.empty()) co_return invalid("empty command in a pipeline");
    if (args.size() > 1) keys.push_back(args[1]);
  }
  auto slot = common_slot(keys);
  if (!slot) co_return slot.error();
  std::vector<Result<Reply>> results;
  if (commands.empty()) co_return results;
  auto self = shared_from_this();
  NodeRouter* router = router_for(co_await asio::this_coro::executor);
  if (router == nullptr) co_return closed_error();

  std::vector<std::string> encoded(commands.size());
  std::string batch;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    append_command(encoded[i], commands[i]);
    batch += encoded[i];
  }
  auto replies = co_await router->run_batch(*slot, std::move(batch), commands.size());
  if (!replies) co_return replies.error();
  results.reserve(commands.size());
  for (std::size_t i = 0; i < replies->size(); ++i) {
    Reply& reply = (*replies)[i];
    const bool redirected = options_.mode == ClientOptions::Mode::kCluster && reply.is_error() &&
                            (reply.str().starts_with("MOVED ") || reply.str().starts_with("ASK "));
    if (redirected) {
      Call call;
      call.command = std::move(encoded[i]);
      results.push_back(co_await router->run(*slot, call));
    } else {
      results.push_back(reply_to_result(std::move(reply)));
    }
  }
  co_return results;
}

Task<Result<void>> Client::ping(PingScope scope) {
  auto self = shared_from_this();
  NodeRouter* router = router_for(co_await asio::this_coro::executor);
  if (router == nullptr) co_return closed_error();
  co_return co_await router->ping_all(scope == PingScope::kAny);
}

}  // namespace otpd::store::redis
