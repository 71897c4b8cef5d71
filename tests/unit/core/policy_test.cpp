// Policy defaults and the resend cooldown arithmetic (SendRules, derived from a Policy).
#include "core/policy.hpp"

#include <gtest/gtest.h>

#include <climits>

#include "core/send_rules.hpp"

namespace otpd::core {
namespace {

TEST(Policy, DefaultsMatchTheProductContract) {
  const Policy p;
  EXPECT_EQ(p.code_length, 6);
  EXPECT_EQ(p.alphabet, Alphabet::kDigits);
  EXPECT_EQ(p.ttl_seconds, 300);
  EXPECT_EQ(p.max_attempts, 5);
  EXPECT_EQ(p.resend_cooldown_seconds, 30);
  EXPECT_EQ(p.max_sends_per_window, 5);
  EXPECT_EQ(p.send_window_seconds, 600);
  EXPECT_EQ(p.retention_seconds, 3600);
  EXPECT_EQ(p.failures_per_recipient_per_hour, 15);
}

TEST(Policy, CooldownDoubles) {
  const Policy p;
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(1), Seconds(30));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(2), Seconds(60));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(3), Seconds(120));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(4), Seconds(240));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(5), Seconds(480));
}

TEST(Policy, CooldownCappedAtWindow) {
  const Policy p;
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(6), Seconds(600));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(7), Seconds(600));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(100), Seconds(600));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(INT_MAX), Seconds(600));
}

TEST(Policy, CooldownFirstSendAndBelow) {
  const Policy p;
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(0), Seconds(30));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(-5), Seconds(30));
}

TEST(Policy, CooldownOffStaysOff) {
  Policy p;
  p.resend_cooldown_seconds = 0;
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(1), Seconds(0));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(10), Seconds(0));
}

TEST(Policy, CooldownNeverOverflows) {
  Policy p;
  p.resend_cooldown_seconds = INT_MAX / 2 + 1;
  p.send_window_seconds = INT_MAX;
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(1), Seconds(INT_MAX / 2 + 1));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(2), Seconds(INT_MAX));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(64), Seconds(INT_MAX));
  p.send_window_seconds = 0;  // no window: only the int range bounds it
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(64), Seconds(INT_MAX));
}

TEST(Policy, CooldownLongerThanWindowIsNotShortened) {
  Policy p;
  p.resend_cooldown_seconds = 900;
  p.send_window_seconds = 600;
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(1), Seconds(900));
  EXPECT_EQ(SendRules::from(p).cooldown_after_send(2), Seconds(900));
}

}  // namespace
}  // namespace otpd::core
