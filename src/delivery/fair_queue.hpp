// The worker's share-out of attempt slots between tenants: at most `slots` attempts at once,
// at most `per_tenant` of them for one tenant, and the jobs waiting for a slot queued per
// tenant and started round-robin, so a tenant whose provider hangs holds only its own share.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "core/types.hpp"
#include "store/store.hpp"

namespace otpd::delivery {

struct FairShare {
  std::size_t slots = 64;       // attempts running at once, all tenants together
  std::size_t per_tenant = 16;  // attempts running at once for one tenant
  std::size_t waiting = 1024;   // jobs held in memory waiting for a slot, all tenants together
};

// Only bookkeeping: it never runs an attempt, it says which jobs to start. Not thread-safe:
// the worker calls it under its lock. Every job it holds is leased in the store, so a job it
// lets go of (refused, pushed out, or kept past `usable_until`) is not lost: the store makes
// it due again when its lease ends.
class FairQueue {
 public:
  explicit FairQueue(FairShare share);

  // A leased job to attempt. It starts at once (appended to `start`, its slot taken) when its
  // tenant has no job waiting and both it and the worker have a free slot; otherwise it waits
  // in its tenant's queue. When `share.waiting` jobs already wait, the last job of the
  // longest queue makes room for it, unless that queue is no more than one longer than this
  // tenant's: then it is refused (false). A waiting job is not started after `usable_until`
  // (its lease would end during the attempt) but let go of. A job already held (running or
  // waiting: the store handed it out again once its lease ran out) is not taken twice; that
  // counts as admitted.
  bool admit(store::DeliveryJob job, core::TimePoint usable_until,
             std::vector<store::DeliveryJob>& start);
  // The attempt of `job` ended: frees its slot, then starts waiting jobs (appended to
  // `start`) while there are free slots, taking tenants in turn.
  void release(const store::DeliveryJob& job, core::TimePoint now,
               std::vector<store::DeliveryJob>& start);
  // Every waiting job still usable, whatever the limits (the worker is stopping and starts
  // what it accepted); their slots are taken.
  std::vector<store::DeliveryJob> drain(core::TimePoint now);

  std::size_t free_slots() const { return running_ >= share_.slots ? 0 : share_.slots - running_; }
  // Whether `tenant` has as many jobs running and waiting as it may run at once.
  bool full(const core::TenantId& tenant) const;
  // The tenants that are full(): nothing more of theirs should be taken from the store.
  std::vector<core::TenantId> full_tenants() const;
  // Whether `job` is running or waiting here.
  bool holds(const store::DeliveryJob& job) const;
  std::size_t running() const { return running_; }
  std::size_t waiting() const { return waiting_; }
  std::size_t running(const core::TenantId& tenant) const;
  std::size_t waiting(const core::TenantId& tenant) const;

 private:
  struct Waiting {
    store::DeliveryJob job;
    core::TimePoint usable_until;
  };
  struct Tenant {
    std::size_t running = 0;
    std::deque<Waiting> waiting;
    bool in_turn = false;  // in turns_
  };
  using Tenants = std::map<core::TenantId, Tenant>;
  using Key = std::pair<core::TenantId, core::VerificationId>;
  static Key key(const store::DeliveryJob& job) { return {job.tenant, job.id}; }

  void fill(core::TimePoint now, std::vector<store::DeliveryJob>& start);
  void take_turn_if_ready(const core::TenantId& id, Tenant& tenant);
  void forget_if_idle(Tenants::iterator it);

  const FairShare share_;
  Tenants tenants_;  // only tenants with jobs running or waiting
  // Tenants with a job waiting and a slot of their own free, in the order they get the next
  // free slot of the worker. Not empty only while every slot of the worker is taken.
  std::deque<core::TenantId> turns_;
  std::set<Key> held_;  // every job running or waiting
  std::size_t running_ = 0;
  std::size_t waiting_ = 0;
};

}  // namespace otpd::delivery
