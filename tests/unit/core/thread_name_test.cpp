#include "core/thread_name.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace otpd::core {
namespace {

std::string name_of_a_thread_named(const char* name) {
  std::string seen;
  std::thread([&] {
    name_this_thread(name);
    char buffer[32] = {};
    if (pthread_getname_np(pthread_self(), buffer, sizeof buffer) == 0) seen = buffer;
  }).join();
  return seen;
}

TEST(ThreadName, NamesTheCallingThread) {
  EXPECT_EQ(name_of_a_thread_named("otpd-writer"), "otpd-writer");
}

TEST(ThreadName, ALongNameIsCutToTheFifteenCharactersLinuxKeeps) {
  EXPECT_EQ(name_of_a_thread_named("otpd-checkpointer-thread"), "otpd-checkpoint");
}

}  // namespace
}  // namespace otpd::core
