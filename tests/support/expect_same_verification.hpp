// One field-by-field comparison of two verification records for every test that checks a
// record survived a store or an encoding unchanged: a failure names the field that differs.
#pragma once

#include <gtest/gtest.h>

#include "core/verification.hpp"

namespace otpd::testing_support {

inline void expect_same(const core::Verification& a, const core::Verification& b) {
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.recipient, b.recipient);
  EXPECT_EQ(a.masked_to, b.masked_to);
  EXPECT_EQ(a.channel, b.channel);
  EXPECT_EQ(a.alphabet, b.alphabet);
  EXPECT_EQ(a.code_length, b.code_length);
  EXPECT_EQ(a.code_hash, b.code_hash);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.resend_at, b.resend_at);
  EXPECT_EQ(a.approved_at, b.approved_at);
  EXPECT_EQ(a.delete_after, b.delete_after);
  EXPECT_EQ(a.delivery, b.delivery);
  EXPECT_EQ(a.locale, b.locale);
  EXPECT_EQ(a.metadata_json, b.metadata_json);
}

}  // namespace otpd::testing_support
