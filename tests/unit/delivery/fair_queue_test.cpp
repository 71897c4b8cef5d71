// FairQueue on its own: slots, the per-tenant share, turns between tenants, the memory
// bound and who gives up room, jobs kept past their usable time, drain.
#include "delivery/fair_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace otpd::delivery {
namespace {

using namespace std::chrono_literals;

const core::TimePoint kNow = core::from_unix_ms(1'800'000'000'000);
const core::TimePoint kUsable = kNow + 10s;

store::DeliveryJob job(const std::string& tenant, const std::string& id) {
  store::DeliveryJob j;
  j.tenant = core::TenantId(tenant);
  j.id = core::VerificationId(id);
  return j;
}

std::vector<std::string> ids(const std::vector<store::DeliveryJob>& jobs) {
  std::vector<std::string> out;
  for (const auto& j : jobs) out.push_back(j.id.str());
  return out;
}

using Ids = std::vector<std::string>;

TEST(FairQueue, StartsAtOnceWhileTheTenantAndTheWorkerHaveRoom) {
  FairQueue q({4, 2, 100});
  std::vector<store::DeliveryJob> start;
  EXPECT_TRUE(q.admit(job("a", "a1"), kUsable, start));
  EXPECT_TRUE(q.admit(job("a", "a2"), kUsable, start));
  EXPECT_TRUE(q.admit(job("a", "a3"), kUsable, start));  // past a's share: waits
  EXPECT_TRUE(q.admit(job("b", "b1"), kUsable, start));
  EXPECT_TRUE(q.admit(job("c", "c1"), kUsable, start));
  EXPECT_TRUE(q.admit(job("c", "c2"), kUsable, start));  // past the 4 slots: waits
  EXPECT_EQ(ids(start), (Ids{"a1", "a2", "b1", "c1"}));
  EXPECT_EQ(q.running(), 4u);
  EXPECT_EQ(q.waiting(), 2u);
  EXPECT_EQ(q.free_slots(), 0u);
  EXPECT_EQ(q.running(core::TenantId("a")), 2u);
  EXPECT_EQ(q.waiting(core::TenantId("a")), 1u);
  EXPECT_TRUE(q.full(core::TenantId("a")));
  EXPECT_FALSE(q.full(core::TenantId("b")));
  EXPECT_TRUE(q.full(core::TenantId("c")));  // one running, one waiting: its share of 2
  EXPECT_EQ(q.full_tenants(),
            (std::vector<core::TenantId>{core::TenantId("a"), core::TenantId("c")}));
}

TEST(FairQueue, AFreedSlotGoesToTheNextTenantInTurn) {
  FairQueue q({1, 1, 100});
  std::vector<store::DeliveryJob> start;
  for (const char* id : {"a1", "a2", "a3"}) q.admit(job("a", id), kUsable, start);
  for (const char* id : {"b1", "b2"}) q.admit(job("b", id), kUsable, start);
  q.admit(job("c", "c1"), kUsable, start);
  EXPECT_EQ(ids(start), (Ids{"a1"}));
  std::vector<std::string> order{"a1"};
  for (int i = 0; i < 5; ++i) {
    const std::string ended = order.back();
    start.clear();
    q.release(job(ended.substr(0, 1), ended), kNow, start);
    ASSERT_EQ(start.size(), 1u) << i;
    order.push_back(start[0].id.str());
  }
  // b and c waited while a ran; a rejoins the round behind them.
  EXPECT_EQ(order, (Ids{"a1", "b1", "c1", "a2", "b2", "a3"}));
  start.clear();
  q.release(job("a", "a3"), kNow, start);
  EXPECT_TRUE(start.empty());
  EXPECT_EQ(q.running(), 0u);
  EXPECT_EQ(q.waiting(), 0u);
  EXPECT_TRUE(q.full_tenants().empty());
}

TEST(FairQueue, ATenantAtItsShareWaitsForItsOwnSlotEvenWhenTheWorkerHasRoom) {
  FairQueue q({8, 2, 100});
  std::vector<store::DeliveryJob> start;
  for (const char* id : {"a1", "a2", "a3"}) q.admit(job("a", id), kUsable, start);
  EXPECT_EQ(ids(start), (Ids{"a1", "a2"}));
  EXPECT_EQ(q.free_slots(), 6u);
  start.clear();
  q.release(job("a", "a1"), kNow, start);
  EXPECT_EQ(ids(start), (Ids{"a3"}));
}

TEST(FairQueue, FullMemoryTakesRoomFromTheLongestQueueOnly) {
  FairQueue q({1, 1, 4});
  std::vector<store::DeliveryJob> start;
  for (const char* id : {"a1", "a2", "a3", "a4", "a5"}) {
    EXPECT_TRUE(q.admit(job("a", id), kUsable, start));
  }
  EXPECT_EQ(q.waiting(), 4u);
  EXPECT_FALSE(q.admit(job("a", "a6"), kUsable, start));  // a holds all of memory
  EXPECT_TRUE(q.admit(job("b", "b1"), kUsable, start));   // a5 makes room
  EXPECT_TRUE(q.admit(job("c", "c1"), kUsable, start));   // a4 makes room
  EXPECT_EQ(q.waiting(core::TenantId("a")), 2u);
  // a still holds two, two more than d.
  EXPECT_TRUE(q.admit(job("d", "d1"), kUsable, start));  // a3 makes room
  EXPECT_EQ(q.waiting(core::TenantId("a")), 1u);
  // Every queue is now one long: nobody is more than one ahead of e.
  EXPECT_FALSE(q.admit(job("e", "e1"), kUsable, start));
  EXPECT_EQ(q.waiting(), 4u);
  EXPECT_EQ(q.waiting(core::TenantId("e")), 0u);
  EXPECT_EQ(ids(start), (Ids{"a1"}));
}

TEST(FairQueue, AJobPastItsUsableTimeIsDroppedNotStarted) {
  FairQueue q({1, 1, 100});
  std::vector<store::DeliveryJob> start;
  q.admit(job("a", "a1"), kUsable, start);
  q.admit(job("b", "b1"), kNow + 1s, start);
  q.admit(job("b", "b2"), kNow + 5s, start);
  q.admit(job("c", "c1"), kNow + 5s, start);
  start.clear();
  q.release(job("a", "a1"), kNow + 2s, start);  // b1 is stale: b2 goes instead
  EXPECT_EQ(ids(start), (Ids{"b2"}));
  start.clear();
  q.release(job("b", "b2"), kNow + 6s, start);  // c1 is stale too
  EXPECT_TRUE(start.empty());
  EXPECT_EQ(q.running(), 0u);
  EXPECT_EQ(q.waiting(), 0u);
  // Let go of, they are no longer held: the store may hand them out again.
  EXPECT_FALSE(q.holds(job("b", "b1")));
  EXPECT_FALSE(q.holds(job("c", "c1")));
}

TEST(FairQueue, DrainStartsEveryUsableJobPastTheLimits) {
  FairQueue q({2, 1, 100});
  std::vector<store::DeliveryJob> start;
  for (const char* id : {"a1", "a2", "a3"}) q.admit(job("a", id), kUsable, start);
  q.admit(job("b", "b1"), kUsable, start);
  q.admit(job("b", "b2"), kNow, start);  // already stale
  EXPECT_EQ(ids(start), (Ids{"a1", "b1"}));
  const auto drained = q.drain(kNow);
  EXPECT_EQ(ids(drained), (Ids{"a2", "a3"}));
  EXPECT_EQ(q.running(), 4u);
  EXPECT_EQ(q.waiting(), 0u);
  start.clear();
  for (const char* id : {"a1", "a2", "a3", "b1"})
    q.release(job(std::string(1, id[0]), id), kNow, start);
  EXPECT_TRUE(start.empty());
  EXPECT_EQ(q.running(), 0u);
  EXPECT_EQ(q.free_slots(), 2u);
}

TEST(FairQueue, AJobAlreadyHeldIsNotTakenTwice) {
  FairQueue q({1, 1, 100});
  std::vector<store::DeliveryJob> start;
  EXPECT_TRUE(q.admit(job("a", "a1"), kUsable, start));
  EXPECT_TRUE(q.admit(job("a", "a2"), kUsable, start));
  // Handed out again by the store (its lease ran out while it ran or waited here).
  EXPECT_TRUE(q.admit(job("a", "a1"), kUsable, start));
  EXPECT_TRUE(q.admit(job("a", "a2"), kUsable, start));
  EXPECT_EQ(ids(start), (Ids{"a1"}));
  EXPECT_EQ(q.running(), 1u);
  EXPECT_EQ(q.waiting(), 1u);
  EXPECT_TRUE(q.holds(job("a", "a1")));
  EXPECT_TRUE(q.holds(job("a", "a2")));
  start.clear();
  q.release(job("a", "a1"), kNow, start);
  EXPECT_EQ(ids(start), (Ids{"a2"}));
  EXPECT_FALSE(q.holds(job("a", "a1")));
  start.clear();
  EXPECT_TRUE(q.admit(job("a", "a1"), kUsable, start));  // no longer held: a new attempt
  EXPECT_TRUE(start.empty());
  EXPECT_EQ(q.waiting(), 1u);
}

TEST(FairQueue, ReleasingAnUnknownJobChangesNothing) {
  FairQueue q({1, 1, 100});
  std::vector<store::DeliveryJob> start;
  q.release(job("nobody", "n1"), kNow, start);
  EXPECT_TRUE(start.empty());
  EXPECT_EQ(q.free_slots(), 1u);
}

TEST(FairQueue, LimitsAreAtLeastOneSlotAndAShareNoLargerThanTheSlots) {
  FairQueue q({0, 0, 0});
  std::vector<store::DeliveryJob> start;
  EXPECT_TRUE(q.admit(job("a", "a1"), kUsable, start));
  EXPECT_FALSE(q.admit(job("a", "a2"), kUsable, start));  // no memory to wait in
  EXPECT_EQ(ids(start), (Ids{"a1"}));
  FairQueue wide({2, 10, 100});
  start.clear();
  for (const char* id : {"a1", "a2", "a3"}) wide.admit(job("a", id), kUsable, start);
  EXPECT_EQ(ids(start), (Ids{"a1", "a2"}));
}

}  // namespace
}  // namespace otpd::delivery
