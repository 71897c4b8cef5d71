// A test against DynamoDB Local: a DynamoDb client on two I/O threads, and a table of the
// test's own (tests share one server and run in parallel), deleted afterwards.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "../dynamodb_test_support.hpp"
#include "aws/dynamodb.hpp"
#include "core/crypto.hpp"
#include "core/random.hpp"
#include "dynamodb_local.hpp"

namespace otpd::aws::testing {

inline AttributeValue S(std::string s) { return AttributeValue::string(std::move(s)); }
inline AttributeValue N(std::int64_t n) { return AttributeValue::number(n); }

// DynamoDB Local keeps one database per access key and region: every test uses these.
inline const Credentials kLocalKeys{"AKIDLOCAL", "local-secret", "", std::nullopt};
inline constexpr const char* kLocalRegion = "us-east-1";

class DynamoDbLocalTest : public ::testing::Test {
 protected:
  // Generous: the deadline is what a test of the deadline sets, not a hurried JVM on a
  // loaded machine. (otpd's default is 2 s.)
  static constexpr std::chrono::milliseconds kTimeout{15000};

  DynamoDbLocalTest() : DynamoDbLocalTest(DynamoDbLocal::shared().endpoint()) {}
  explicit DynamoDbLocalTest(const std::string& endpoint)
      : http_(std::make_shared<net::HttpClient>(io_.io().get_executor())),
        db_(std::make_unique<DynamoDb>(
            http_, env_credentials(http_, clock_, env_of(kLocalKeys)), clock_,
            DynamoOptions{.region = kLocalRegion, .endpoint = endpoint, .timeout = kTimeout})) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    core::OpenSslRandom random;
    table_ =
        std::string("otpd_") + info->name() + "_" + core::hex_encode(core::random_bytes(random, 4));
  }

  void TearDown() override {
    if (created_) run(db_->delete_table(table_));
  }

  template <typename T>
  T run(Task<T> task) {
    return io_.run(std::move(task));
  }

  // The test's table: partition key "pk" (S), sort key "sk" (N), and a global index "by_g"
  // on "g" (S) / "sk" (N); waits until it is ACTIVE.
  void create_table() {
    CreateTableRequest request{
        .table = table_,
        .key = {{"pk", KeyType::kString}, KeyAttribute{"sk", KeyType::kNumber}},
        .indexes = {{.name = "by_g",
                     .key = {{"g", KeyType::kString}, KeyAttribute{"sk", KeyType::kNumber}}}}};
    auto created = run(db_->create_table(request));
    ASSERT_TRUE(created) << created.error().code().message() << " " << created.error().aws_code;
    created_ = true;
    auto active = run(
        db_->wait_until_active(table_, std::chrono::seconds(60), std::chrono::milliseconds(100)));
    ASSERT_TRUE(active) << active.error().code().message();
  }

  static Item key(const std::string& pk, std::int64_t sk = 0) {
    return {{"pk", S(pk)}, {"sk", N(sk)}};
  }

  std::optional<Item> get(const std::string& pk, std::int64_t sk = 0) {
    auto got = run(db_->get_item({.table = table_, .key = key(pk, sk)}));
    EXPECT_TRUE(got) << got.error().code().message();
    return got ? *got : std::nullopt;
  }

  IoThreads io_{2};
  core::SystemTimeSource clock_;
  std::shared_ptr<net::HttpClient> http_;
  std::unique_ptr<DynamoDb> db_;
  std::string table_;
  bool created_ = false;
};

}  // namespace otpd::aws::testing
