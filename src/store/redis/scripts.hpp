// The Lua scripts of the Redis store. None of them holds a rule of otpd: they read values,
// write values on a compare-and-set, and lease queued jobs; every decision is core's, taken
// in C++ between a read and a commit. All keys of one call share one hash slot.
#pragma once

#include "store/redis/script.hpp"

namespace otpd::store::redis {

// KEYS: the keys to read; ARGV[i]: the hash field of KEYS[i], or "" to GET KEYS[i] as a
// string. Returns one value (nil when absent) per key: one consistent snapshot.
const Script& read_script();

// KEYS[1]: an index hash, ARGV[1]: the field, ARGV[2]: the index format (records.hpp),
// ARGV[3] and ARGV[4]: what the key and the field of the value it points to begin with.
// Reads an index entry and, in the same step, the hash field it points to: the key ARGV[3]
// and the entry's key tail, the field ARGV[4] and the entry's field ending (a key in the same
// slot, named inside the entry: the one key a script here reads without its caller naming
// it). Returns {} when the entry is absent, {entry} when it is not of that format, else
// {entry, value} (value nil when absent): a lookup by id and the read of the record found,
// in one round trip.
const Script& follow_script();

// The compare-and-set commit (see CommitBatch in commit_batch.hpp for the argument
// layout). Checks every guard first; if one fails, writes nothing and returns {0, i} (the
// 1-based guard that failed); else applies every write and returns {1, n1, n2, ...} with
// the result of each counter increment (0 for the other writes). A write to a bucket hash
// also extends the hash's PEXPIREAT to the field's expiry and drops up to 8 fields of it
// whose own expiry has passed (by the server's clock), as Redis' active expiry samples.
const Script& commit_script();

// KEYS[1]: a group's queue, KEYS[2]: its jobs. ARGV[1] now, ARGV[2] lease end (ms),
// ARGV[3] how many to take, ARGV[4...] tenants to pass over. Leases (score = lease end) up
// to that many due members (score <= now), oldest first, in one step, and returns them
// with their scores and jobs (nil when the job is gone): member1, score1, job1, ...
// Scans at most 1024 due members, however many belong to passed-over tenants.
const Script& lease_script();

}  // namespace otpd::store::redis
