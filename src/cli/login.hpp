// `otp login`: the original client script's flow (ask for the address, send, ask for the
// code, verify), with prompts that end cleanly when input ends.
#pragma once

#include <istream>
#include <optional>
#include <ostream>
#include <string>

#include "cli/client.hpp"

namespace otpd::cli {

struct LoginOptions {
  std::string to;  // asked for when empty
  std::string channel;
  bool json = false;  // print otpd's final JSON answer instead of a sentence
};

// Returns the exit status (render.hpp). Prompts go to `err` so that `out` holds only results.
int login(const Target& target, const LoginOptions& options, std::istream& in, std::ostream& out,
          std::ostream& err);

// Asks `question` until a non-blank line is typed; nullopt when input ends first.
std::optional<std::string> prompt(const std::string& question, std::istream& in, std::ostream& err);

}  // namespace otpd::cli
