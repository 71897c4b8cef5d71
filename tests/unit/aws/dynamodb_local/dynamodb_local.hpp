// DynamoDB Local for the tests: the CTest fixture's instance (tests/CMakeLists.txt), or one
// started for this process when the binary is run by hand, or one of a test's own (to freeze
// it). Each is started and stopped by tests/support/dynamodb/dynamodb-local.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#ifndef OTPD_DYNAMODB_LOCAL_SCRIPT
#error "tests/CMakeLists.txt names the script as OTPD_DYNAMODB_LOCAL_SCRIPT"
#endif

namespace otpd::aws::testing {

class DynamoDbLocal {
 public:
  // A new instance owned by this process: stopped by the destructor, and killed by the
  // script's watchdog if this process dies first. Throws when it does not start.
  static std::unique_ptr<DynamoDbLocal> start_own() {
    char dir[] = "/tmp/otpd-dynamodb-local-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    const std::string command = std::string(OTPD_DYNAMODB_LOCAL_SCRIPT) + " start " + dir + " " +
                                std::to_string(::getpid());
    if (std::system(command.c_str()) != 0) {
      std::filesystem::remove_all(dir);
      throw std::runtime_error("DynamoDB Local did not start: " + command);
    }
    return std::unique_ptr<DynamoDbLocal>(new DynamoDbLocal(dir, true));
  }

  // The instance every test of this process shares: the fixture's when ctest runs the test
  // (OTPD_DYNAMODB_LOCAL_STATE names its directory), else one started on first use.
  static DynamoDbLocal& shared() {
    static std::unique_ptr<DynamoDbLocal> instance = [] {
      if (const char* dir = std::getenv("OTPD_DYNAMODB_LOCAL_STATE")) {
        return std::unique_ptr<DynamoDbLocal>(new DynamoDbLocal(dir, false));
      }
      return start_own();
    }();
    return *instance;
  }

  ~DynamoDbLocal() {
    if (!owned_) return;
    const std::string command = std::string(OTPD_DYNAMODB_LOCAL_SCRIPT) + " stop " + dir_;
    if (std::system(command.c_str()) != 0) ADD_FAILURE() << "could not stop DynamoDB Local";
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  DynamoDbLocal(const DynamoDbLocal&) = delete;
  DynamoDbLocal& operator=(const DynamoDbLocal&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  // SIGSTOP / SIGCONT: the JVM keeps its sockets but answers nothing while stopped.
  void freeze() const { ::kill(pid_, SIGSTOP); }
  void thaw() const { ::kill(pid_, SIGCONT); }

 private:
  DynamoDbLocal(std::string dir, bool owned) : dir_(std::move(dir)), owned_(owned) {
    std::ifstream port(dir_ + "/port");
    std::ifstream pid(dir_ + "/pid");
    if (!(port >> port_) || !(pid >> pid_)) {
      throw std::runtime_error("no DynamoDB Local described in " + dir_);
    }
  }

  std::string dir_;
  bool owned_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace otpd::aws::testing
