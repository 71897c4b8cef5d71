// otp: the command-line client of otpd (send, verify, status, and an interactive login).
// Global options are accepted before or after the subcommand and listed in each one's help.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "app/version.hpp"
#include "cli/client.hpp"
#include "cli/login.hpp"
#include "cli/render.hpp"

namespace {

using namespace otpd::cli;

struct GlobalOptions {
  Target target;
  bool json = false;
};

const std::string kUrlHelp =
    std::string("otpd base URL (default ") + kDefaultUrl + ", or $OTPD_URL when set)";

// Every subcommand gets the same three options, bound to the same variables, so
// `otp --url U send TO` and `otp send --url U TO` mean the same and each --help lists them.
void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.add_option("--url", options.target.url, kUrlHelp)->group("Global options");
  app.add_option("--api-key,--key", options.target.api_key, "API key (or $OTPD_API_KEY)")
      ->group("Global options");
  app.add_flag("--json", options.json, "Print otpd's JSON answer unchanged (for scripts)")
      ->group("Global options");
}

std::string json_body(std::initializer_list<std::pair<const char*, const std::string*>> members) {
  boost::json::object o;
  for (const auto& [name, value] : members) {
    if (!value->empty()) o[name] = *value;
  }
  return boost::json::serialize(o);
}

const std::vector<std::string> kCommands{"send", "verify", "status", "login"};

std::string command_list() {
  std::string list;
  for (const auto& c : kCommands) list += (list.empty() ? "" : ", ") + c;
  return list;
}

// The first argument that is neither an option nor an option's value: what the user meant
// as the command.
std::string first_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--url" || arg == "--api-key" || arg == "--key") {
      ++i;
      continue;
    }
    if (!arg.starts_with("-")) return arg;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  GlobalOptions options;
  if (const char* url = std::getenv("OTPD_URL"); url != nullptr && *url != '\0') {
    options.target.url = url;
  }
  if (const char* key = std::getenv("OTPD_API_KEY")) options.target.api_key = key;

  CLI::App cli{"otp - command-line client of the otpd one-time-code service", "otp"};
  cli.set_version_flag("--version", "otp " + std::string(otpd::kVersion), "Print the version");
  cli.require_subcommand(1);
  cli.footer("Exit status: 0 done, 1 otpd refused (4xx/5xx, wrong code, input ended), " +
             std::to_string(kExitUsage) + " usage error or otpd not reachable.\n");
  add_global_options(cli, options);

  std::string to, channel, id, code;
  auto* send = cli.add_subcommand("send", "Send a code to an address or phone number");
  send->add_option("to", to, "Email address or E.164 number (+14155550100)")->required();
  send->add_option("--channel", channel, "email, sms, webhook or console (default: the tenant's)");
  add_global_options(*send, options);

  auto* verify = cli.add_subcommand("verify", "Check a code (by --id, or by --to: the newest)");
  verify->add_option("code", code, "The code the person typed")->required();
  auto* by_id = verify->add_option("--id", id, "Verification id (from send)");
  auto* by_to = verify->add_option("--to", to, "Recipient: checks its newest verification");
  by_id->excludes(by_to);
  add_global_options(*verify, options);

  auto* status = cli.add_subcommand("status", "Show a verification (never its code)");
  status->add_option("id", id, "Verification id")->required();
  add_global_options(*status, options);

  auto* login = cli.add_subcommand(
      "login", "Interactive: send a code (asking for the address), then ask for the code");
  login->add_option("to", to, "Email address or E.164 number (asked for when absent)");
  login->add_option("--channel", channel, "email, sms, webhook or console");
  add_global_options(*login, options);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports a mistyped command as an unexpected argument; say what it is instead.
    if (e.get_exit_code() != 0 && cli.get_subcommands().empty()) {
      const auto word = first_word(argc, argv);
      if (word.empty()) {
        std::cerr << "otp: a command is needed (commands: " << command_list()
                  << "; see otp --help)\n";
        return kExitUsage;
      }
      if (std::find(kCommands.begin(), kCommands.end(), word) == kCommands.end()) {
        std::cerr << "otp: unknown command \"" << word << "\" (commands: " << command_list()
                  << "; see otp --help)\n";
        return kExitUsage;
      }
    }
    return cli.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  while (options.target.url.ends_with('/')) options.target.url.pop_back();
  const auto& target = options.target;
  if (send->parsed()) {
    return print_response(
        Command::kSend,
        call(target, "POST", "/v1/otp/send", json_body({{"to", &to}, {"channel", &channel}})),
        options.json, target.url, std::cout, std::cerr);
  }
  if (verify->parsed()) {
    if (id.empty() == to.empty()) {
      std::cerr << "otp verify: give one of --id and --to\n";
      return kExitUsage;
    }
    return print_response(Command::kVerify,
                          call(target, "POST", "/v1/otp/verify",
                               json_body({{"id", &id}, {"to", &to}, {"code", &code}})),
                          options.json, target.url, std::cout, std::cerr);
  }
  if (status->parsed()) {
    // Ids are URL-safe; anything else would change the path the request goes to.
    if (id.empty() || id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789-_") != std::string::npos) {
      std::cerr << "otp status: \"" << id << "\" is not a verification id\n";
      return kExitUsage;
    }
    return print_response(Command::kStatus, call(target, "GET", "/v1/otp/" + id, ""), options.json,
                          target.url, std::cout, std::cerr);
  }
  if (login->parsed()) {
    return otpd::cli::login(target, {to, channel, options.json}, std::cin, std::cout, std::cerr);
  }
  return kExitUsage;
}
