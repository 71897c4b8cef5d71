// Cluster key slots: CRC16 check value and the hash tag rules of the Redis Cluster spec.
#include "store/redis/slot.hpp"

#include <gtest/gtest.h>

namespace otpd::store::redis {
namespace {

TEST(Slot, Crc16IsXmodem) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the spec's check value
  EXPECT_EQ(crc16(""), 0);
}

TEST(Slot, KnownSlots) {
  // Values Redis itself gives (CLUSTER KEYSLOT).
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("hello"), 866);
  EXPECT_EQ(key_slot(""), 0);
}

TEST(Slot, HashTags) {
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");     // from the first '{' to the first '}'
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");      // only the first tag counts
  EXPECT_EQ(hash_tag("no tag"), "no tag");
  EXPECT_EQ(hash_tag("open{only"), "open{only");
  EXPECT_EQ(hash_tag("close}{"), "close}{");
  EXPECT_EQ(hash_tag("}{x}"), "x");
}

}  // namespace
}  // namespace otpd::store::redis
