// Script's SHA1 (OpenSSL), the digest Redis gives SCRIPT LOAD and EVALSHA.
#include "store/redis/script.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <utility>

namespace otpd::store::redis {

Script::Script(std::string source) : source_(std::move(source)) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(source_.data(), source_.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA1 unavailable in OpenSSL");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  sha1_.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    sha1_ += kHex[digest[i] >> 4];
    sha1_ += kHex[digest[i] & 0xf];
  }
}

}  // namespace otpd::store::redis
