// NodeRouter: slot map (CLUSTER SLOTS), redirections, script reloads, per-thread
// connections.
#include "store/redis/node_router.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "store/redis/resp.hpp"
#include "store/redis/slot.hpp"

namespace otpd::store::redis {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
// A MOVED reply fixes its own slot at once; the full map is re-read in the background at
// most this often, to learn the other slots that moved with it.
constexpr std::chrono::milliseconds kMinRefreshInterval{500};

std::string_view first_word(std::string_view text) { return text.substr(0, text.find(' ')); }

template <typename Int>
bool parse_int(std::string_view text, Int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

struct Redirect {
  bool ask = false;
  std::uint16_t slot = 0;
  Endpoint endpoint;
};

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381"; the host may be an unbracketed
// IPv6 address (split at the last ':') or empty when the node does not know its own
// address, which then means the node that answered.
std::optional<Redirect> parse_redirect(std::string_view text, const Endpoint& from) {
  Redirect redirect;
  const auto kind = first_word(text);
  if (kind == "ASK") {
    redirect.ask = true;
  } else if (kind != "MOVED") {
    return std::nullopt;
  }
  auto rest = text.substr(kind.size());
  if (!rest.starts_with(' ')) return std::nullopt;
  rest.remove_prefix(1);
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  if (!parse_int(rest.substr(0, space), redirect.slot) || redirect.slot >= kSlotCount) {
    return std::nullopt;
  }
  const auto address = rest.substr(space + 1);
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos ||
      !parse_int(address.substr(colon + 1), redirect.endpoint.port)) {
    return std::nullopt;
  }
  redirect.endpoint.host = colon == 0 ? from.host : std::string(address.substr(0, colon));
  return redirect;
}

Error node_error(const Endpoint& node, std::string what) {
  return Error{Errc::kProtocol, node.to_string() + ": " + std::move(what)};
}

}  // namespace

Result<Reply> reply_to_result(Reply reply) {
  if (!reply.is_error()) return reply;
  static constexpr std::array<std::string_view, 5> kNotRun = {"TRYAGAIN", "CLUSTERDOWN", "LOADING",
                                                              "MASTERDOWN", "READONLY"};
  const auto prefix = first_word(reply.str());
  for (auto not_run : kNotRun) {
    if (prefix == not_run) return Error{Errc::kUnavailable, std::move(reply).take_str()};
  }
  return Error{Errc::kServerError, std::move(reply).take_str()};
}

NodeRouter::NodeRouter(Executor executor, const ClientOptions& options,
                       std::shared_ptr<boost::asio::ssl::context> tls)
    : executor_(executor),
      options_(options),
      tls_(std::move(tls)),
      owner_(std::this_thread::get_id()),
      cluster_(options.mode == ClientOptions::Mode::kCluster),
      refreshed_(executor, Clock::time_point::max()) {}

void NodeRouter::check_thread() const {
  if (std::this_thread::get_id() != owner_) {
    throw std::logic_error(
        "redis::Client: an io_context must be run by one thread (its connections are "
        "that thread's)");
  }
}

std::shared_ptr<Connection> NodeRouter::connection(const Endpoint& endpoint) {
  auto& slot = connections_[endpoint.to_string()];
  if (!slot) {
    Connection::Settings settings;
    settings.endpoint = endpoint;
    settings.tls = tls_;
    settings.user = options_.user;
    settings.password = options_.password;
    settings.db = options_.db;
    settings.timeout = options_.request_timeout;
    settings.max_in_flight = options_.max_in_flight;
    settings.max_reply_bytes = options_.max_reply_bytes;
    slot = Connection::create(executor_, std::move(settings));
    if (closed_) slot->close();
  }
  return slot;
}

Task<Result<std::shared_ptr<Connection>>> NodeRouter::connection_for(
    std::optional<std::uint16_t> slot) {
  if (!cluster_) co_return connection(options_.endpoints.front());
  if (!map_) {
    auto refreshed = co_await refresh();
    if (!map_) co_return refreshed.error();
  }
  const auto& nodes = map_->nodes;
  if (!slot) {
    // Any node will do: prefer one that is not backing off after a failure.
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      auto candidate = connection(nodes[(next_any_ + i) % nodes.size()]);
      if (!candidate->backing_off()) {
        next_any_ += i + 1;
        co_return candidate;
      }
    }
    co_return connection(nodes[next_any_++ % nodes.size()]);
  }
  const auto owner = map_->owner[*slot];
  if (owner == kNoOwner) {
    schedule_refresh();
    co_return Error{Errc::kUnavailable, "slot " + std::to_string(*slot) + " is served by no node"};
  }
  co_return connection(nodes[owner]);
}

Task<Result<Reply>> NodeRouter::run(std::optional<std::uint16_t> slot, const Call& call) {
  check_thread();
  auto self = shared_from_this();
  std::optional<Endpoint> ask_target;
  bool reloaded = false;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    std::shared_ptr<Connection> node;
    if (ask_target) {
      node = connection(*ask_target);
    } else {
      auto found = co_await connection_for(slot);
      if (!found) co_return found.error();
      node = std::move(*found);
    }
    const bool asking = ask_target.has_value();
    ask_target.reset();

    // ASKING lets the importing node serve the next command only, so it goes right before
    // the command, after any SCRIPT LOAD.
    auto send = [&](bool with_load) {
      std::string bytes;
      std::size_t count = 1;
      if (with_load) {
        append_command(bytes, {"SCRIPT", "LOAD", call.script->source()});
        ++count;
      }
      if (asking) {
        append_command(bytes, {"ASKING"});
        ++count;
      }
      bytes += call.command;
      return node->execute(std::move(bytes), count);
    };
    auto replies = co_await send(false);
    if (replies && replies->back().is_error() && call.script != nullptr && !reloaded &&
        first_word(replies->back().str()) == "NOSCRIPT") {
      reloaded = true;
      replies = co_await send(true);
      if (replies && replies->front().is_error()) {
        co_return Error{Errc::kServerError, std::move(replies->front()).take_str()};
      }
    }
    if (!replies) {
      if (cluster_) schedule_refresh();
      co_return replies.error();
    }
    Reply reply = std::move(replies->back());
    if (cluster_ && reply.is_error()) {
      if (auto redirect = parse_redirect(reply.str(), node->endpoint())) {
        if (redirect->ask) {
          ask_target = redirect->endpoint;
        } else {
          learn_moved(redirect->slot, redirect->endpoint);
        }
        continue;
      }
      const auto prefix = first_word(reply.str());
      if (prefix == "CLUSTERDOWN" || prefix == "READONLY") schedule_refresh();
    }
    co_return reply_to_result(std::move(reply));
  }
  co_return Error{Errc::kUnavailable,
                  "more than " + std::to_string(kMaxRedirects) + " cluster redirections"};
}

Task<Result<std::vector<Reply>>> NodeRouter::run_batch(std::optional<std::uint16_t> slot,
                                                       std::string commands, std::size_t count) {
  check_thread();
  auto self = shared_from_this();
  auto node = co_await connection_for(slot);
  if (!node) co_return node.error();
  auto replies = co_await (*node)->execute(std::move(commands), count);
  if (!replies && cluster_) schedule_refresh();
  co_return replies;
}

Task<Result<void>> NodeRouter::ping_all(bool any) {
  check_thread();
  auto self = shared_from_this();
  std::vector<std::shared_ptr<Connection>> targets;
  if (!cluster_) {
    targets.push_back(connection(options_.endpoints.front()));
  } else {
    if (!map_) {
      auto refreshed = co_await refresh();
      if (!map_) co_return refreshed.error();
    }
    for (const auto& node : map_->nodes) targets.push_back(connection(node));
  }
  struct Gather {
    explicit Gather(Executor executor, std::size_t n)
        : left(n), done(executor, Clock::time_point::max()) {}
    std::size_t left;
    std::size_t answered = 0;
    std::optional<Error> error;
    asio::steady_timer done;
  };
  auto gather = std::make_shared<Gather>(executor_, targets.size());
  for (const auto& node : targets) {
    std::string ping;
    append_command(ping, {"PING"});
    asio::co_spawn(executor_, node->execute(std::move(ping), 1),
                   [gather, node](std::exception_ptr, Result<std::vector<Reply>> replies) {
                     if (replies && replies->front().is_text("PONG")) ++gather->answered;
                     if (!gather->error) {
                       if (!replies) {
                         gather->error = replies.error();
                       } else if (!replies->front().is_text("PONG")) {
                         auto result = reply_to_result(std::move(replies->front()));
                         gather->error = result ? Error{Errc::kProtocol, "unexpected PING reply"}
                                                : result.error();
                         gather->error->message =
                             node->endpoint().to_string() + ": " + gather->error->message;
                       }
                     }
                     if (--gather->left == 0) gather->done.cancel();
                   });
  }
  // The PINGs complete through the executor, so none can have finished yet.
  if (gather->left > 0) co_await gather->done.async_wait(kAsTuple);
  if (gather->error && !(any && gather->answered > 0)) co_return *gather->error;
  co_return Result<void>{};
}

Task<Result<void>> NodeRouter::refresh() {
  if (refreshing_) {
    co_await refreshed_.async_wait(kAsTuple);
    if (refresh_error_) co_return *refresh_error_;
    co_return Result<void>{};
  }
  refreshing_ = true;
  auto self = shared_from_this();
  // The nodes of the current map first (rotating, so one dead node is not always asked
  // first), then the seeds of the URL.
  std::vector<Endpoint> candidates;
  if (map_) {
    const auto& nodes = map_->nodes;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      candidates.push_back(nodes[(next_any_ + i) % nodes.size()]);
    }
  }
  for (const auto& seed : options_.endpoints) candidates.push_back(seed);

  // Asking node after node is bounded by one request timeout in all (plus the one attempt
  // under way when it passes), so a waiting caller is never held longer.
  const auto deadline = Clock::now() + options_.request_timeout;
  std::optional<Error> error = Error{Errc::kUnavailable, "no cluster node to ask"};
  for (const auto& candidate : candidates) {
    if (Clock::now() >= deadline || closed_) break;
    std::string command;
    append_command(command, {"CLUSTER", "SLOTS"});
    auto replies = co_await connection(candidate)->execute(std::move(command), 1);
    if (!replies) {
      error = replies.error();
      continue;
    }
    Reply& reply = replies->front();
    if (reply.is_error()) {
      error = reply_to_result(std::move(reply)).error();
      error->message = candidate.to_string() + ": CLUSTER SLOTS: " + error->message;
      continue;
    }
    SlotMap map;
    map.owner.assign(kSlotCount, kNoOwner);
    bool valid = reply.is_array();
    for (const auto& range : reply.elements()) {
      const auto& fields = range.elements();
      if (!range.is_array() || fields.size() < 3 || !fields[0].is_integer() ||
          !fields[1].is_integer() || !fields[2].is_array() || fields[2].elements().size() < 2 ||
          !fields[2].elements()[0].is_bulk() || !fields[2].elements()[1].is_integer()) {
        valid = false;
        break;
      }
      const long long first = fields[0].integer();
      const long long last = fields[1].integer();
      const auto& host = fields[2].elements()[0].str();
      const long long port = fields[2].elements()[1].integer();
      if (first < 0 || last < first || last >= kSlotCount || port <= 0 || port > 65535) {
        valid = false;
        break;
      }
      if (host == "?") continue;  // the node does not know its address yet
      // An empty host means "the address you reached me at".
      Endpoint node{host.empty() ? candidate.host : host, static_cast<std::uint16_t>(port)};
      std::size_t index = 0;
      while (index < map.nodes.size() && !(map.nodes[index] == node)) ++index;
      if (index == map.nodes.size()) map.nodes.push_back(std::move(node));
      for (long long s = first; s <= last; ++s) {
        map.owner[static_cast<std::size_t>(s)] = static_cast<std::uint16_t>(index);
      }
    }
    if (!valid) {
      error = node_error(candidate, "malformed CLUSTER SLOTS reply");
      continue;
    }
    if (map.nodes.empty()) {
      error = Error{Errc::kUnavailable, candidate.to_string() + ": the cluster serves no slot"};
      continue;
    }
    map_ = std::move(map);
    error.reset();
    break;
  }
  refreshing_ = false;
  last_refresh_ = Clock::now();
  refresh_error_ = error;
  refreshed_.cancel();
  if (error) co_return *error;
  co_return Result<void>{};
}

void NodeRouter::schedule_refresh() {
  if (refreshing_ || closed_ || Clock::now() - last_refresh_ < kMinRefreshInterval) return;
  asio::co_spawn(
      executor_, [self = shared_from_this()]() -> Task<void> { co_await self->refresh(); },
      asio::detached);
}

void NodeRouter::learn_moved(std::uint16_t slot, const Endpoint& endpoint) {
  if (map_) {
    auto& nodes = map_->nodes;
    std::size_t index = 0;
    while (index < nodes.size() && !(nodes[index] == endpoint)) ++index;
    if (index == nodes.size()) nodes.push_back(endpoint);
    map_->owner[slot] = static_cast<std::uint16_t>(index);
  }
  schedule_refresh();
}

void NodeRouter::close() {
  closed_ = true;
  for (auto& [name, node] : connections_) node->close();
  refreshed_.cancel();
}

}  // namespace otpd::store::redis
