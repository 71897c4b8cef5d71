// Real redis-server processes for the Redis client tests, started and stopped by
// redis_fixture.py: the shared ones of the CTest fixtures (read from their state files),
// or private ones a test starts for itself because it stops, kills or reconfigures them.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace otpd::testing_support {

class RedisServers {
 public:
  enum class Kind { kStandalone, kTls, kCluster, kTlsCluster };

  // The servers of that kind's CTest fixture (OTPD_REDIS_STATE_DIR/<kind>.json) when the
  // test runs under ctest; otherwise (a test binary run by hand) private ones, started on
  // first use and kept for the rest of the process.
  static std::shared_ptr<RedisServers> shared(Kind kind) {
    static std::mutex mutex;
    static std::map<Kind, std::shared_ptr<RedisServers>> started;
    std::lock_guard lock(mutex);
    auto& servers = started[kind];
    if (!servers) {
      const char* dir = std::getenv("OTPD_REDIS_STATE_DIR");
      const auto path = dir ? std::filesystem::path(dir) / (name(kind) + ".json") : "";
      if (dir && std::filesystem::exists(path)) {
        servers = std::shared_ptr<RedisServers>(new RedisServers(path.string(), false));
      } else {
        servers = start(kind);
      }
    }
    return servers;
  }

  // Private servers, stopped (killed, directory deleted) by the destructor.
  // `appendfsync` ("always" or "everysec") turns the AOF on, so a server killed and started
  // again comes back with its data.
  static std::shared_ptr<RedisServers> start(Kind kind, const std::string& requirepass = "",
                                             const std::string& appendfsync = "") {
    static std::atomic<int> counter{0};
    const auto state =
        std::filesystem::temp_directory_path() /
        ("otpd-redis-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".json");
    std::string command = "'" + python() + "' '" + script() + "' start " + name(kind) +
                          " --state '" + state.string() + "' --owner-pid " +
                          std::to_string(::getpid());
    if (!requirepass.empty()) command += " --requirepass '" + requirepass + "'";
    if (!appendfsync.empty()) command += " --appendfsync " + appendfsync;
    run(command + " > /dev/null");
    return std::shared_ptr<RedisServers>(new RedisServers(state.string(), true));
  }

  ~RedisServers() {
    if (owned_)
      std::system(
          ("'" + python() + "' '" + script() + "' stop --state '" + state_ + "' > /dev/null 2>&1")
              .c_str());
  }

  std::size_t size() const { return ports_.size(); }
  int port(std::size_t i = 0) const { return ports_.at(i); }
  pid_t pid(std::size_t i = 0) const { return pids_.at(i); }
  const std::string& ca_file() const { return ca_file_; }

  // redis://127.0.0.1:P, rediss://localhost:P?ca_file=..., redis-cluster://127.0.0.1:P1,...
  // rediss-cluster://127.0.0.1:P1,...?ca_file=...
  std::string url() const {
    if (kind_ == "cluster" || kind_ == "tls-cluster") {
      std::string url = kind_ == "cluster" ? "redis-cluster://" : "rediss-cluster://";
      for (std::size_t i = 0; i < ports_.size(); ++i) {
        url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(ports_[i]);
      }
      return ca_file_.empty() ? url : url + "?ca_file=" + ca_file_;
    }
    if (kind_ == "tls") {
      return "rediss://localhost:" + std::to_string(ports_[0]) + "?ca_file=" + ca_file_;
    }
    return "redis://127.0.0.1:" + std::to_string(ports_[0]);
  }
  // A plain connection to one node (to run admin commands on exactly that node).
  std::string node_url(std::size_t i) const {
    if (ca_file_.empty()) return "redis://127.0.0.1:" + std::to_string(ports_.at(i));
    return "rediss://127.0.0.1:" + std::to_string(ports_.at(i)) + "?ca_file=" + ca_file_;
  }

  void freeze(std::size_t i = 0) const { ::kill(pids_.at(i), SIGSTOP); }
  void thaw(std::size_t i = 0) const { ::kill(pids_.at(i), SIGCONT); }
  void kill_node(std::size_t i) { node_command("kill-node", i); }
  // Starts node i again on its port, with its directory (a cluster node keeps its id and
  // slots); returns once it answers (a cluster: once cluster_state is ok again).
  void restart_node(std::size_t i) {
    node_command("start-node", i);
    load();
  }

 private:
  RedisServers(std::string state, bool owned) : state_(std::move(state)), owned_(owned) { load(); }

  void load() {
    std::ifstream in(state_);
    std::stringstream text;
    text << in.rdbuf();
    const auto json = boost::json::parse(text.str()).as_object();
    kind_ = json.at("kind").as_string().c_str();
    ca_file_ = json.at("ca_file").as_string().c_str();
    ports_.clear();
    pids_.clear();
    for (const auto& node : json.at("nodes").as_array()) {
      ports_.push_back(static_cast<int>(node.at("port").to_number<long long>()));
      pids_.push_back(static_cast<pid_t>(node.at("pid").to_number<long long>()));
    }
  }

  void node_command(const std::string& verb, std::size_t i) {
    run("'" + python() + "' '" + script() + "' " + verb + " --state '" + state_ + "' --node " +
        std::to_string(i));
  }

  static void run(const std::string& command) {
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  }
  static std::string name(Kind kind) {
    switch (kind) {
      case Kind::kStandalone:
        return "standalone";
      case Kind::kTls:
        return "tls";
      case Kind::kCluster:
        return "cluster";
      case Kind::kTlsCluster:
        return "tls-cluster";
    }
    return "";
  }
  static std::string python() { return "/usr/bin/python3"; }
  static std::string script() {
    const char* path = std::getenv("OTPD_REDIS_FIXTURE");
#ifdef OTPD_REDIS_FIXTURE_SCRIPT
    if (path == nullptr) path = OTPD_REDIS_FIXTURE_SCRIPT;
#endif
    if (path == nullptr) {
      throw std::runtime_error(
          "set OTPD_REDIS_FIXTURE to tests/support/redis/redis_fixture.py (ctest does)");
    }
    return path;
  }

  std::string state_;
  bool owned_;
  std::string kind_;
  std::string ca_file_;
  std::vector<int> ports_;
  std::vector<pid_t> pids_;
};

}  // namespace otpd::testing_support
