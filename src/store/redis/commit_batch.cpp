// CommitBatch: the commit script's arguments.
#include "store/redis/commit_batch.hpp"

#include <algorithm>

namespace otpd::store::redis {
namespace {

std::string ms(core::TimePoint t) { return std::to_string(core::to_unix_ms(t)); }

}  // namespace

std::string CommitBatch::key_index(const std::string& key) {
  auto it = std::find(keys_.begin(), keys_.end(), key);
  if (it == keys_.end()) {
    keys_.push_back(key);
    return std::to_string(keys_.size());
  }
  return std::to_string(it - keys_.begin() + 1);
}

void CommitBatch::expect(const std::string& key, const std::string& field,
                         const std::optional<std::string>& value) {
  guard_args_.push_back(key_index(key));
  guard_args_.push_back(field);
  guard_args_.push_back(value.value_or(""));
  ++guards_;
}

void CommitBatch::write(const char* op, const std::string& key, std::string x, std::string y,
                        std::string z) {
  write_args_.push_back(op);
  write_args_.push_back(key_index(key));
  write_args_.push_back(std::move(x));
  write_args_.push_back(std::move(y));
  write_args_.push_back(std::move(z));
  ++writes_;
}

void CommitBatch::set(const std::string& key, const std::string& value, core::TimePoint expires) {
  write("S", key, value, ms(expires), "");
}

void CommitBatch::set_field(const std::string& key, const std::string& field,
                            const std::string& value, core::TimePoint expires) {
  write("H", key, field, value, ms(expires));
}

void CommitBatch::del(const std::string& key) { write("D", key, "", "", ""); }

void CommitBatch::del_field(const std::string& key, const std::string& field) {
  write("D", key, field, "", "");
}

void CommitBatch::enqueue(const std::string& queue, const std::string& member, core::TimePoint due,
                          core::TimePoint expires) {
  write("Z", queue, member, ms(due), ms(expires));
}

void CommitBatch::dequeue(const std::string& queue, const std::string& member) {
  write("R", queue, member, "", "");
}

std::size_t CommitBatch::increment(const std::string& key, long long delta,
                                   core::TimePoint expires) {
  write("I", key, std::to_string(delta), ms(expires), "");
  return writes_ - 1;
}

std::vector<std::string> CommitBatch::args() const {
  std::vector<std::string> out;
  out.reserve(2 + guard_args_.size() + write_args_.size());
  out.push_back(std::to_string(guards_));
  out.insert(out.end(), guard_args_.begin(), guard_args_.end());
  out.push_back(std::to_string(writes_));
  out.insert(out.end(), write_args_.begin(), write_args_.end());
  return out;
}

}  // namespace otpd::store::redis
