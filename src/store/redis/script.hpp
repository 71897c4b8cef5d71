// A Lua script for EVALSHA: its source and the SHA1 Redis will know it by, computed here so
// the first call needs no SCRIPT LOAD round trip when the server already has it.
#pragma once

#include <string>

namespace otpd::store::redis {

class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }  // 40 lowercase hex digits

 private:
  std::string source_;
  std::string sha1_;
};

}  // namespace otpd::store::redis
