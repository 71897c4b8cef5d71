// What the otp client prints: otpd's answers as short readable text, or (--json) the
// server's JSON body unchanged for scripts.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "net/http_client.hpp"

namespace otpd::cli {

enum class Command { kSend, kVerify, kStatus };

// Exit statuses of otp: 0 done, 1 otpd said no (a 4xx or 5xx, a wrong code, input ended),
// 2 usage error or otpd not reachable.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;

// Prints a response of `command` and returns the exit status. Success goes to `out`, a
// problem or a network error to `err`; with `json` the body goes to `out` either way.
int print_response(Command command, const net::HttpResponse& response, bool json,
                   const std::string& url, std::ostream& out, std::ostream& err);

// A problem+json answer as one readable line plus its details ("otp: ... (code, HTTP 422)").
void print_problem(const net::HttpResponse& response, std::ostream& err);

// "otp: cannot reach otpd at URL: ERROR (set --url or OTPD_URL)".
void print_network_error(const net::HttpResponse& response, const std::string& url,
                         std::ostream& err);

// A string member of a JSON object body, if there is one.
std::optional<std::string> string_member(const std::string& body, const char* name);
// An integer member of a JSON object body, if there is one.
std::optional<long long> integer_member(const std::string& body, const char* name);

}  // namespace otpd::cli
