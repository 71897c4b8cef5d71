// Server secret on disk: O_EXCL creation so two starting instances never overwrite it.
#include "app/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/crypto.hpp"
#include "core/random.hpp"
#include "obs/log.hpp"

namespace otpd::app {

namespace {
std::runtime_error failure(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

void ensure_directory(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return;
  std::filesystem::create_directories(path, ec);
  if (ec) throw std::runtime_error("data_dir: cannot create " + path + ": " + ec.message());
  ::chmod(path.c_str(), 0700);
}

std::string load_or_create_secret(const std::string& data_dir) {
  ensure_directory(data_dir);
  const std::string path = data_dir + "/server.secret";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    core::OpenSslRandom rng;
    const std::string secret = core::hex_encode(core::random_bytes(rng, 32)) + "\n";
    const bool ok =
        ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
        ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) throw failure("cannot write", path);
    obs::warn("generated a new server secret", {{"path", path}});
  } else if (errno != EEXIST) {
    throw failure("cannot create", path);
  }

  fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw failure("cannot read", path);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    obs::warn("server secret is readable by others; chmod 600 it", {{"path", path}});
  }
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) throw failure("cannot read", path);
  std::string secret(buf, static_cast<std::size_t>(n));
  while (!secret.empty() &&
         (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) {
    secret.pop_back();
  }
  if (secret.size() < 32) throw std::runtime_error(path + ": the secret is too short");
  return secret;
}

}  // namespace otpd::app
