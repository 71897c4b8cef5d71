// The connection cap fitted under the descriptor limit, and the limit raised at start.
#include "http/descriptor_limit.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace otpd::http {
namespace {

TEST(DescriptorLimit, CapFitsWhatTheLimitLeaves) {
  EXPECT_EQ(fit_connections(4096, 1048576, 20, kReservedDescriptors), 4096u);
  EXPECT_EQ(fit_connections(4096, 1024, 20, kReservedDescriptors),
            1024u - 20 - kReservedDescriptors);
  EXPECT_EQ(fit_connections(4096, 256, 24, 160), 72u);
  // Never above what was asked for, never below the floor.
  EXPECT_EQ(fit_connections(10, 1024, 20, 160), 10u);
  EXPECT_EQ(fit_connections(4096, 100, 20, 160), kMinConnections);
  EXPECT_EQ(fit_connections(4, 100, 20, 160), 4u);
}

TEST(DescriptorLimit, RaisesTheSoftLimitToTheHardOne) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  rlimit lowered = before;
  lowered.rlim_cur = std::min<rlim_t>(before.rlim_max, 512);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);

  const DescriptorBudget budget = plan_descriptors(4096, kReservedDescriptors);
  rlimit after{};
  ::getrlimit(RLIMIT_NOFILE, &after);
  ::setrlimit(RLIMIT_NOFILE, &before);

  EXPECT_EQ(after.rlim_cur, before.rlim_max);
  EXPECT_EQ(budget.limit, before.rlim_max);
  EXPECT_EQ(budget.raised, lowered.rlim_cur != before.rlim_max);
  EXPECT_GE(budget.open, 3u);  // stdin, stdout, stderr at least
  EXPECT_EQ(budget.max_connections,
            fit_connections(4096, budget.limit, budget.open, kReservedDescriptors));
}

}  // namespace
}  // namespace otpd::http
