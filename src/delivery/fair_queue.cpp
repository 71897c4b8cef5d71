// FairQueue: per-tenant queues, a round of turns, and the bounds.
#include "delivery/fair_queue.hpp"

#include <algorithm>
#include <utility>

namespace otpd::delivery {

namespace {

FairShare sane(FairShare share) {
  share.slots = std::max<std::size_t>(share.slots, 1);
  share.per_tenant = std::clamp<std::size_t>(share.per_tenant, 1, share.slots);
  return share;
}

}  // namespace

FairQueue::FairQueue(FairShare share) : share_(sane(share)) {}

bool FairQueue::admit(store::DeliveryJob job, core::TimePoint usable_until,
                      std::vector<store::DeliveryJob>& start) {
  if (held_.contains(key(job))) return true;
  auto it = tenants_.try_emplace(job.tenant).first;
  Tenant& tenant = it->second;
  if (tenant.waiting.empty() && tenant.running < share_.per_tenant && running_ < share_.slots) {
    ++tenant.running;
    ++running_;
    held_.insert(key(job));
    start.push_back(std::move(job));
    return true;
  }
  if (waiting_ >= share_.waiting) {
    auto longest =
        std::max_element(tenants_.begin(), tenants_.end(), [](const auto& a, const auto& b) {
          return a.second.waiting.size() < b.second.waiting.size();
        });
    if (longest->second.waiting.size() <= tenant.waiting.size() + 1) {
      forget_if_idle(it);
      return false;
    }
    held_.erase(key(longest->second.waiting.back().job));
    longest->second.waiting.pop_back();
    --waiting_;
  }
  held_.insert(key(job));
  tenant.waiting.push_back({std::move(job), usable_until});
  ++waiting_;
  take_turn_if_ready(it->first, tenant);
  return true;
}

void FairQueue::release(const store::DeliveryJob& job, core::TimePoint now,
                        std::vector<store::DeliveryJob>& start) {
  auto it = tenants_.find(job.tenant);
  if (it != tenants_.end() && it->second.running > 0 && held_.erase(key(job)) > 0) {
    --it->second.running;
    --running_;
    take_turn_if_ready(it->first, it->second);
    forget_if_idle(it);
  }
  fill(now, start);
}

std::vector<store::DeliveryJob> FairQueue::drain(core::TimePoint now) {
  std::vector<store::DeliveryJob> start;
  for (auto& [id, tenant] : tenants_) {
    for (auto& w : tenant.waiting) {
      if (w.usable_until <= now) {
        held_.erase(key(w.job));
        continue;
      }
      start.push_back(std::move(w.job));
      ++tenant.running;
      ++running_;
    }
    tenant.waiting.clear();
    tenant.in_turn = false;
  }
  waiting_ = 0;
  turns_.clear();
  std::erase_if(tenants_, [](const auto& entry) { return entry.second.running == 0; });
  return start;
}

bool FairQueue::full(const core::TenantId& id) const {
  auto it = tenants_.find(id);
  return it != tenants_.end() &&
         it->second.running + it->second.waiting.size() >= share_.per_tenant;
}

std::vector<core::TenantId> FairQueue::full_tenants() const {
  std::vector<core::TenantId> out;
  for (const auto& [id, tenant] : tenants_) {
    if (tenant.running + tenant.waiting.size() >= share_.per_tenant) out.push_back(id);
  }
  return out;
}

bool FairQueue::holds(const store::DeliveryJob& job) const { return held_.contains(key(job)); }

std::size_t FairQueue::running(const core::TenantId& id) const {
  auto it = tenants_.find(id);
  return it == tenants_.end() ? 0 : it->second.running;
}

std::size_t FairQueue::waiting(const core::TenantId& id) const {
  auto it = tenants_.find(id);
  return it == tenants_.end() ? 0 : it->second.waiting.size();
}

void FairQueue::fill(core::TimePoint now, std::vector<store::DeliveryJob>& start) {
  while (running_ < share_.slots && !turns_.empty()) {
    auto it = tenants_.find(turns_.front());
    turns_.pop_front();
    if (it == tenants_.end()) continue;
    Tenant& tenant = it->second;
    tenant.in_turn = false;
    while (!tenant.waiting.empty() && tenant.waiting.front().usable_until <= now) {
      held_.erase(key(tenant.waiting.front().job));
      tenant.waiting.pop_front();
      --waiting_;
    }
    if (!tenant.waiting.empty()) {
      start.push_back(std::move(tenant.waiting.front().job));
      tenant.waiting.pop_front();
      --waiting_;
      ++tenant.running;
      ++running_;
    }
    take_turn_if_ready(it->first, tenant);
    forget_if_idle(it);
  }
}

void FairQueue::take_turn_if_ready(const core::TenantId& id, Tenant& tenant) {
  if (tenant.in_turn || tenant.waiting.empty() || tenant.running >= share_.per_tenant) return;
  tenant.in_turn = true;
  turns_.push_back(id);
}

void FairQueue::forget_if_idle(Tenants::iterator it) {
  if (it->second.running == 0 && it->second.waiting.empty() && !it->second.in_turn) {
    tenants_.erase(it);
  }
}

}  // namespace otpd::delivery
