// The DynamoDB client a store uses on one io_context: kept in a service of that io_context,
// so its pooled connections (whose sockets belong to the io_context) are closed when the
// io_context ends, never after; and no operation hops to another thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "aws/credentials.hpp"
#include "aws/dynamodb.hpp"

namespace otpd::store::dynamodb {

// What every client of one store is made from.
struct ClientSettings {
  aws::DynamoOptions dynamo;
  aws::CredentialProvider::Getenv getenv;  // empty: the process environment
};

// The client of the store whose settings these are, for the io_context `executor` runs on:
// made on first use there. Thread-safe; the reference is valid until that io_context is
// destroyed.
aws::DynamoDb& client_for(const std::shared_ptr<const ClientSettings>& settings,
                          const boost::asio::any_io_executor& executor);

namespace detail {

class ClientService final : public boost::asio::execution_context::service {
 public:
  using key_type = ClientService;
  static boost::asio::execution_context::id id;

  explicit ClientService(boost::asio::execution_context& context);
  ~ClientService() override;

  aws::DynamoDb& client_for(const std::shared_ptr<const ClientSettings>& settings,
                            const boost::asio::any_io_executor& executor);

 private:
  struct Client;
  void shutdown() override;

  std::mutex mu_;
  // One per store that has called from this io_context; a store that is gone leaves a
  // client here until the next one is made (or the io_context ends).
  std::vector<std::pair<std::weak_ptr<const ClientSettings>, std::unique_ptr<Client>>>
      clients_;  // GUARDED_BY(mu_)
};

}  // namespace detail
}  // namespace otpd::store::dynamodb
