// A DynamoDB client per (store, io_context), owned by a service of the io_context.
#include "store/dynamodb/dynamodb_clients.hpp"

#include <algorithm>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/strand.hpp>

#include "core/clock.hpp"
#include "net/http_client.hpp"

namespace otpd::store::dynamodb {

namespace asio = boost::asio;

namespace {

// Idle connections kept to DynamoDB: about as many as requests in flight, so that a busy
// server does not open (and TIME_WAIT) a connection per request.
constexpr std::size_t kKeptConnections = 128;

// The executor a strand runs on, down to the io_context's own: connections go there rather
// than on the caller's strand, which would serialise every request of the process behind
// one connection's.
asio::any_io_executor base_of(const asio::any_io_executor& executor) {
  using IoExecutor = asio::io_context::executor_type;
  if (const auto* strand = executor.target<asio::strand<IoExecutor>>()) {
    return strand->get_inner_executor();
  }
  if (const auto* strand = executor.target<asio::strand<asio::any_io_executor>>()) {
    return base_of(strand->get_inner_executor());
  }
  return executor;
}

}  // namespace

aws::DynamoDb& client_for(const std::shared_ptr<const ClientSettings>& settings,
                          const asio::any_io_executor& executor) {
  asio::execution_context& context = asio::query(executor, asio::execution::context);
  return asio::use_service<detail::ClientService>(context).client_for(settings, executor);
}

namespace detail {

asio::execution_context::id ClientService::id;

struct ClientService::Client {
  Client(const ClientSettings& settings, asio::any_io_executor executor)
      : http(std::make_shared<net::HttpClient>(std::move(executor), kKeptConnections)),
        db(http, std::make_shared<aws::CredentialProvider>(http, clock, settings.getenv), clock,
           settings.dynamo) {}

  // Signing needs the real time, whatever clock a store judges expiry by: AWS refuses a
  // signature more than five minutes off.
  core::SystemTimeSource clock;
  std::shared_ptr<net::HttpClient> http;
  aws::DynamoDb db;
};

ClientService::ClientService(asio::execution_context& context) : service(context) {}

ClientService::~ClientService() = default;

aws::DynamoDb& ClientService::client_for(const std::shared_ptr<const ClientSettings>& settings,
                                         const asio::any_io_executor& executor) {
  std::lock_guard lock(mu_);
  for (auto& [owner, client] : clients_) {
    if (owner.lock() == settings) return client->db;
  }
  std::erase_if(clients_, [](const auto& entry) { return entry.first.expired(); });
  clients_.emplace_back(settings, std::make_unique<Client>(*settings, base_of(executor)));
  return clients_.back().second->db;
}

void ClientService::shutdown() {
  std::vector<std::pair<std::weak_ptr<const ClientSettings>, std::unique_ptr<Client>>> gone;
  {
    std::lock_guard lock(mu_);
    gone.swap(clients_);
  }
}

}  // namespace detail
}  // namespace otpd::store::dynamodb
