// The interactive login: send a code (or reuse the one already pending), then check what the
// person types until it is right or otpd says stop.
#include "cli/login.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "cli/render.hpp"

namespace otpd::cli {
namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string send_body(const std::string& to, const std::string& channel) {
  boost::json::object o;
  o["to"] = to;
  if (!channel.empty()) o["channel"] = channel;
  return boost::json::serialize(o);
}

// By id when the send told it; by recipient (its newest verification) when the send was
// refused by the cooldown, i.e. a code sent moments ago is still pending.
std::string verify_body(const std::string& id, const std::string& to, const std::string& code) {
  boost::json::object o;
  if (!id.empty()) {
    o["id"] = id;
  } else {
    o["to"] = to;
  }
  o["code"] = code;
  return boost::json::serialize(o);
}

}  // namespace

std::optional<std::string> prompt(const std::string& question, std::istream& in,
                                  std::ostream& err) {
  for (;;) {
    err << question << std::flush;
    std::string line;
    if (!std::getline(in, line)) {
      err << "\n";
      return std::nullopt;
    }
    if (auto answer = trim(line); !answer.empty()) return answer;
  }
}

int login(const Target& target, const LoginOptions& options, std::istream& in, std::ostream& out,
          std::ostream& err) {
  std::string to = options.to;
  if (to.empty()) {
    auto typed = prompt("Email or phone number: ", in, err);
    if (!typed) {
      err << "otp: no address given (input ended)\n";
      return kExitRefused;
    }
    to = *typed;
  }

  const auto sent = call(target, "POST", "/v1/otp/send", send_body(to, options.channel));
  if (!sent.error.empty()) {
    print_network_error(sent, target.url, err);
    return kExitUsage;
  }
  std::string id;
  if (sent.status == 201) {
    id = string_member(sent.body, "id").value_or("");
    err << "A code was sent to " << string_member(sent.body, "to").value_or(to) << ".\n";
  } else if (sent.status == 429 &&
             string_member(sent.body, "code").value_or("") == "resend_cooldown") {
    // The cooldown means a code went out moments ago and is still pending: the person most
    // likely has it, so offer to check it rather than give up.
    const auto wait = integer_member(sent.body, "retry_after");
    err << "A code was already sent to " << to << " moments ago";
    if (wait) err << " (a new one can be sent in " << *wait << " s)";
    err << ". Type the code you received.\n";
  } else {
    if (options.json) {
      out << sent.body << (sent.body.ends_with('\n') ? "" : "\n");
    } else {
      print_problem(sent, err);
    }
    return kExitRefused;
  }

  for (;;) {
    const auto code = prompt("Code: ", in, err);
    if (!code) {
      err << "otp: no code given (input ended); nothing was verified\n";
      return kExitRefused;
    }
    const auto checked = call(target, "POST", "/v1/otp/verify", verify_body(id, to, *code));
    if (!checked.error.empty()) {
      print_network_error(checked, target.url, err);
      return kExitUsage;
    }
    const auto problem_code = string_member(checked.body, "code").value_or("");
    if (checked.status == 422 && problem_code == "invalid_code") {
      const auto left = integer_member(checked.body, "attempts_remaining");
      err << "That code is not right";
      if (left) err << " (" << *left << (*left == 1 ? " attempt" : " attempts") << " left)";
      err << "; try again.\n";
      continue;
    }
    if (options.json) {
      out << checked.body << (checked.body.ends_with('\n') ? "" : "\n");
      return checked.status == 200 ? kExitOk : kExitRefused;
    }
    if (checked.status == 200) {
      out << "Verified.\n";
      return kExitOk;
    }
    // A malformed code (wrong length or letters) is the person's typo: let them retype it.
    if (checked.status == 400 && problem_code == "invalid_request") {
      print_problem(checked, err);
      continue;
    }
    print_problem(checked, err);
    return kExitRefused;
  }
}

}  // namespace otpd::cli
