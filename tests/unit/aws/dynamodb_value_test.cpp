// AttributeValue: each type's wire form, round trips, typed access, and what is not a value.
#include "aws/dynamodb_value.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <string>

namespace otpd::aws {
namespace {

namespace json = boost::json;

std::optional<AttributeValue> parse(const std::string& text) {
  return attribute_from_json(json::parse(text));
}

TEST(AttributeValue, WireFormOfEachType) {
  EXPECT_EQ(to_json(AttributeValue::string("a b")), json::parse(R"({"S":"a b"})"));
  EXPECT_EQ(to_json(AttributeValue::number(-42)), json::parse(R"({"N":"-42"})"));
  EXPECT_EQ(to_json(AttributeValue::number_text("1.5E+3")), json::parse(R"({"N":"1.5E+3"})"));
  // RFC 4648 test vectors: "foob" and "fo" with their padding.
  EXPECT_EQ(to_json(AttributeValue::binary("foob")), json::parse(R"({"B":"Zm9vYg=="})"));
  EXPECT_EQ(to_json(AttributeValue::binary(std::string("\0\xff", 2))),
            json::parse(R"({"B":"AP8="})"));
  EXPECT_EQ(to_json(AttributeValue::boolean(false)), json::parse(R"({"BOOL":false})"));
  EXPECT_EQ(to_json(AttributeValue::null()), json::parse(R"({"NULL":true})"));
  EXPECT_EQ(to_json(AttributeValue()), json::parse(R"({"NULL":true})"));
  EXPECT_EQ(to_json(AttributeValue::map({{"k", AttributeValue::number(1)}})),
            json::parse(R"({"M":{"k":{"N":"1"}}})"));
  EXPECT_EQ(to_json(AttributeValue::list({AttributeValue::string("x"), AttributeValue::null()})),
            json::parse(R"({"L":[{"S":"x"},{"NULL":true}]})"));
  EXPECT_EQ(to_json(AttributeValue::string_set({"b", "a"})), json::parse(R"({"SS":["b","a"]})"));
  EXPECT_EQ(to_json(AttributeValue::number_set({"1", "2"})), json::parse(R"({"NS":["1","2"]})"));
  EXPECT_EQ(to_json(AttributeValue::binary_set({"fo", "f"})),
            json::parse(R"({"BS":["Zm8=","Zg=="]})"));
}

TEST(AttributeValue, RoundTripsThroughTheWireForm) {
  const Item item{
      {"pk", AttributeValue::string("tenant#acme")},
      {"version", AttributeValue::number(7)},
      {"sealed", AttributeValue::binary(std::string("\x01\x00\x02sealed", 9))},
      {"done", AttributeValue::boolean(true)},
      {"gone", AttributeValue::null()},
      {"meta", AttributeValue::map({{"a", AttributeValue::list({AttributeValue::number(1),
                                                                AttributeValue::map({})})}})},
      {"tags", AttributeValue::string_set({"x", "y"})},
      {"ns", AttributeValue::number_set({"3", "-1.5"})},
      {"bs", AttributeValue::binary_set({std::string(1, '\0'), "abc"})},
  };
  const auto wire = json::serialize(to_json(item));
  const auto back = item_from_json(json::parse(wire));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, item);
}

TEST(AttributeValue, TypedAccessAnswersOnlyForItsType) {
  const auto s = AttributeValue::string("12");
  ASSERT_NE(s.if_string(), nullptr);
  EXPECT_EQ(*s.if_string(), "12");
  EXPECT_EQ(s.if_number_text(), nullptr);
  EXPECT_FALSE(s.if_int64().has_value());
  EXPECT_EQ(s.if_binary(), nullptr);
  EXPECT_FALSE(s.if_bool().has_value());
  EXPECT_FALSE(s.is_null());
  EXPECT_EQ(s.if_map(), nullptr);
  EXPECT_EQ(s.if_list(), nullptr);
  EXPECT_EQ(s.if_set(), nullptr);

  EXPECT_EQ(AttributeValue::number(std::numeric_limits<std::int64_t>::min()).if_int64(),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(AttributeValue::number_text("12").if_int64(), 12);
  EXPECT_FALSE(AttributeValue::number_text("12.5").if_int64().has_value());
  EXPECT_FALSE(AttributeValue::number_text("1E3").if_int64().has_value());
  EXPECT_FALSE(AttributeValue::number_text("99999999999999999999").if_int64().has_value());
  EXPECT_EQ(AttributeValue::boolean(false).if_bool(), false);
  EXPECT_TRUE(AttributeValue::null().is_null());
  ASSERT_NE(AttributeValue::number_set({"1"}).if_set(), nullptr);
  EXPECT_EQ(AttributeValue::number_set({"1"}).type(), AttributeValue::Type::kNumberSet);
}

TEST(AttributeValue, EqualityComparesTypeAndContent) {
  EXPECT_EQ(AttributeValue::string("1"), AttributeValue::string("1"));
  EXPECT_NE(AttributeValue::string("1"), AttributeValue::number_text("1"));
  EXPECT_NE(AttributeValue::string_set({"1"}), AttributeValue::number_set({"1"}));
  EXPECT_NE(AttributeValue::boolean(true), AttributeValue::boolean(false));
  EXPECT_EQ(AttributeValue::null(), AttributeValue());
}

TEST(AttributeValue, RejectsWhatIsNotAValue) {
  EXPECT_FALSE(parse(R"({})"));
  EXPECT_FALSE(parse(R"({"S":"a","N":"1"})"));  // two types
  EXPECT_FALSE(parse(R"({"X":"a"})"));
  EXPECT_FALSE(parse(R"({"S":1})"));
  EXPECT_FALSE(parse(R"({"N":12})"));  // numbers travel as text
  EXPECT_FALSE(parse(R"({"N":""})"));
  EXPECT_FALSE(parse(R"({"B":"Zm9vYg="})"));  // bad padding
  EXPECT_FALSE(parse(R"({"B":"Zm9v!g=="})"));
  EXPECT_FALSE(parse(R"({"BOOL":"true"})"));
  EXPECT_FALSE(parse(R"({"M":[]})"));
  EXPECT_FALSE(parse(R"({"M":{"a":{"S":1}}})"));  // nested error
  EXPECT_FALSE(parse(R"({"L":[{"S":"a"},{}]})"));
  EXPECT_FALSE(parse(R"({"SS":["a",1]})"));
  EXPECT_FALSE(parse(R"({"BS":["%%%%"]})"));
  EXPECT_FALSE(parse(R"("S")"));
  EXPECT_FALSE(item_from_json(json::parse(R"([])")));
  EXPECT_FALSE(item_from_json(json::parse(R"({"a":{"Q":1}})")));
}

TEST(AttributeValue, DecodesDynamoDbsOwnAnswers) {
  const auto item = item_from_json(json::parse(
      R"({"id":{"S":"v_1"},"n":{"N":"3"},"b":{"B":"c2VhbGVk"},"ok":{"BOOL":true},"z":{"NULL":true}})"));
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(*item->at("id").if_string(), "v_1");
  EXPECT_EQ(item->at("n").if_int64(), 3);
  EXPECT_EQ(*item->at("b").if_binary(), "sealed");
  EXPECT_EQ(item->at("ok").if_bool(), true);
  EXPECT_TRUE(item->at("z").is_null());
}

}  // namespace
}  // namespace otpd::aws
