// Files at rest: O_EXCL creation so two starting instances never overwrite the secret, and
// modes checked on the open descriptor so the file judged is the file read.
#include "app/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Creates the missing directories of `path` with mode 0700 each (create_directories would
// give them 0777 less the umask).
void make_directories(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && parent != std::filesystem::path(path)) make_directories(parent.string());
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("data_dir: cannot create " + path + ": " + std::strerror(errno));
  }
}

}  // namespace

void ensure_directory(const std::string& path) { make_directories(path); }

bool prepare_data_dir(const std::string& path) {
  make_directories(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw failure("data_dir: cannot read", path);
  if (!S_ISDIR(st.st_mode)) throw std::runtime_error("data_dir: " + path + " is not a directory");
  if ((st.st_mode & 077) == 0) return true;
  obs::warn("data_dir is open to group or others; run chmod 700 on it",
            {{"path", path}, {"mode", octal_mode(st.st_mode)}});
  return false;
}

bool create_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    // The umask could only have narrowed 0600; fchmod states it anyway.
    ::fchmod(fd, 0600);
    ::close(fd);
    return true;
  }
  if (errno != EEXIST) throw failure("cannot create", path);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw failure("cannot read", path);
  if ((st.st_mode & 077) == 0) return true;
  obs::warn("file is open to group or others; run chmod 600 on it",
            {{"path", path}, {"mode", octal_mode(st.st_mode)}});
  return false;
}

std::string load_or_create_secret(const std::string& data_dir) {
  prepare_data_dir(data_dir);
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
  if (::fstat(fd, &st) != 0) {
    const auto error = failure("cannot read", path);
    ::close(fd);
    throw error;
  }
  // With a copy of the store, this file opens queued deliveries (recipient and code) and
  // checks guessed codes offline: it is refused, not merely warned about.
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    throw std::runtime_error(path + " is open to group or others (mode " + octal_mode(st.st_mode) +
                             "); it holds the key to every code and recipient in the store. "
                             "Run: chmod 600 " +
                             path);
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
