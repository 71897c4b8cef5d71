// otp: the command-line client of otpd (send, verify, status, and an interactive login
// that does what the original service's client script did: ask, send, ask, verify).
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "net/http_client.hpp"

namespace {

namespace json = boost::json;

struct Target {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
};

// One request, synchronously: the client is async, so run it on a private io_context.
otpd::net::HttpResponse call(const Target& target, std::string method, const std::string& path,
                             const std::string& body) {
  boost::asio::io_context io;
  otpd::net::HttpClient client(io.get_executor());
  otpd::net::HttpRequest request;
  request.method = std::move(method);
  request.url = target.url + path;
  request.body = body;
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  if (!target.key.empty()) request.headers.emplace_back("Authorization", "Bearer " + target.key);
  auto future = boost::asio::co_spawn(io, client.send(std::move(request)), boost::asio::use_future);
  io.run();
  return future.get();
}

// Prints the answer; returns the exit status (0 for 2xx, 1 otherwise).
int report(const otpd::net::HttpResponse& response) {
  if (!response.error.empty()) {
    std::cerr << "otp: " << response.error << "\n";
    return 2;
  }
  std::cout << response.body << (response.body.ends_with('\n') ? "" : "\n");
  return response.status >= 200 && response.status < 300 ? 0 : 1;
}

std::string send_body(const std::string& to, const std::string& channel) {
  json::object o;
  o["to"] = to;
  if (!channel.empty()) o["channel"] = channel;
  return json::serialize(o);
}

std::string verify_body(const std::string& id, const std::string& to, const std::string& code) {
  json::object o;
  if (!id.empty()) o["id"] = id;
  if (!to.empty()) o["to"] = to;
  o["code"] = code;
  return json::serialize(o);
}

std::string prompt(const std::string& question) {
  std::cout << question << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return "";
  return line;
}

std::string member(const std::string& body, const char* name) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec || !value.is_object()) return "";
  const auto* m = value.as_object().if_contains(name);
  return m && m->is_string() ? std::string(m->as_string()) : "";
}

int login(const Target& target, std::string to, const std::string& channel) {
  if (to.empty()) to = prompt("Email or phone number: ");
  if (to.empty()) return 2;
  auto sent = call(target, "POST", "/v1/otp/send", send_body(to, channel));
  if (!sent.error.empty() || sent.status != 201) return report(sent);
  const std::string id = member(sent.body, "id");
  std::cout << "A code was sent to " << member(sent.body, "to") << ".\n";
  for (;;) {
    const std::string code = prompt("Code: ");
    if (code.empty()) return 1;
    auto checked = call(target, "POST", "/v1/otp/verify", verify_body(id, "", code));
    if (!checked.error.empty()) return report(checked);
    if (checked.status == 200) {
      std::cout << "Verified.\n";
      return 0;
    }
    const std::string code_member = member(checked.body, "code");
    if (code_member != "invalid_code") {
      std::cout << "Not verified: " << member(checked.body, "detail") << "\n";
      return 1;
    }
    std::cout << "That code is not right; try again.\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"otp - client for the otpd one-time-code service"};
  cli.require_subcommand(1);
  Target target;
  if (const char* url = std::getenv("OTPD_URL")) target.url = url;
  if (const char* key = std::getenv("OTPD_API_KEY")) target.key = key;
  cli.add_option("--url", target.url, "otpd base URL (or OTPD_URL)");
  cli.add_option("--key", target.key, "API key (or OTPD_API_KEY)");

  std::string to, channel, id, code;
  auto* send = cli.add_subcommand("send", "Send a code");
  send->add_option("to", to, "Email address or E.164 number")->required();
  send->add_option("--channel", channel, "email, sms, webhook or console");

  auto* verify = cli.add_subcommand("verify", "Check a code");
  verify->add_option("code", code, "The code")->required();
  verify->add_option("--id", id, "Verification id");
  verify->add_option("--to", to, "Recipient (its newest verification)");

  auto* status = cli.add_subcommand("status", "Show a verification");
  status->add_option("id", id, "Verification id")->required();

  auto* login_cmd = cli.add_subcommand("login", "Interactive: send a code, then ask for it");
  login_cmd->add_option("to", to, "Email address or E.164 number (asked when absent)");
  login_cmd->add_option("--channel", channel, "email, sms, webhook or console");

  CLI11_PARSE(cli, argc, argv);
  while (!target.url.empty() && target.url.back() == '/') target.url.pop_back();
  if (send->parsed()) return report(call(target, "POST", "/v1/otp/send", send_body(to, channel)));
  if (verify->parsed()) {
    if (id.empty() == to.empty()) {
      std::cerr << "otp verify: give exactly one of --id and --to\n";
      return 2;
    }
    return report(call(target, "POST", "/v1/otp/verify", verify_body(id, to, code)));
  }
  if (status->parsed()) return report(call(target, "GET", "/v1/otp/" + id, ""));
  if (login_cmd->parsed()) return login(target, to, channel);
  return 2;
}
