// One compare-and-set commit for commit_script(): the values that must still be what a
// snapshot read, then the writes that apply only if they all are. All keys of one batch
// must share a hash slot.
//
// Arguments of the script: ARGV = guards, (key index, field, expected) per guard, writes,
// (op, key index, x, y, z) per write; KEYS = every key named, once each. An expected value
// of "" means "absent" (no stored value is ever empty: each starts with its expiry).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace otpd::store::redis {

class CommitBatch {
 public:
  // Guards. `field` empty: a string key; else a field of a hash.
  void expect(const std::string& key, const std::string& field,
              const std::optional<std::string>& value);

  // Writes, applied in the order given.
  void set(const std::string& key, const std::string& value, core::TimePoint expires);
  void set_field(const std::string& key, const std::string& field, const std::string& value,
                 core::TimePoint expires);
  void del(const std::string& key);
  void del_field(const std::string& key, const std::string& field);
  void enqueue(const std::string& queue, const std::string& member, core::TimePoint due,
               core::TimePoint expires);
  void dequeue(const std::string& queue, const std::string& member);
  // INCRBY; the result comes back in its write's place. A count that reaches 0 is deleted.
  // Returns the write's index.
  std::size_t increment(const std::string& key, long long delta, core::TimePoint expires);

  bool empty() const { return writes_ == 0 && guards_ == 0; }
  std::size_t writes() const { return writes_; }
  const std::vector<std::string>& keys() const { return keys_; }
  // The script's ARGV.
  std::vector<std::string> args() const;

 private:
  std::string key_index(const std::string& key);
  void write(const char* op, const std::string& key, std::string x, std::string y, std::string z);

  std::vector<std::string> keys_;
  std::vector<std::string> guard_args_;
  std::vector<std::string> write_args_;
  std::size_t guards_ = 0;
  std::size_t writes_ = 0;
};

}  // namespace otpd::store::redis
