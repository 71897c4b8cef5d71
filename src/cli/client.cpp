// One HTTP request to otpd from a command-line process.
#include "cli/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace otpd::cli {

net::HttpResponse call(const Target& target, std::string method, const std::string& path,
                       const std::string& json_body) {
  // The client is asynchronous; a CLI has nothing else to do, so it runs a private loop.
  boost::asio::io_context io;
  net::HttpClient client(io.get_executor());
  net::HttpRequest request;
  request.method = std::move(method);
  request.url = target.url + path;
  request.body = json_body;
  if (!json_body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  if (!target.api_key.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + target.api_key);
  }
  auto future = boost::asio::co_spawn(io, client.send(std::move(request)), boost::asio::use_future);
  io.run();
  return future.get();
}

}  // namespace otpd::cli
