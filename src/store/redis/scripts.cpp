// The Redis store's Lua scripts (Redis 7.0+: PEXPIRETIME, HRANDFIELD, SET PXAT).
#include "store/redis/scripts.hpp"

namespace otpd::store::redis {

const Script& read_script() {
  static const Script script(R"lua(
local out = {}
for i = 1, #KEYS do
  if ARGV[i] == '' then
    out[i] = redis.call('GET', KEYS[i])
  else
    out[i] = redis.call('HGET', KEYS[i], ARGV[i])
  end
end
return out
)lua");
  return script;
}

const Script& follow_script() {
  static const Script script(R"lua(
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return {} end
-- 6 bytes of expiry, the format, the key tail's length, the key tail, the field's ending.
if string.len(entry) < 8 or string.byte(entry, 7) ~= tonumber(ARGV[2]) then return {entry} end
local size = string.byte(entry, 8)
local key = ARGV[3] .. string.sub(entry, 9, 8 + size)
return {entry, redis.call('HGET', key, ARGV[4] .. string.sub(entry, 9 + size))}
)lua");
  return script;
}

const Script& commit_script() {
  static const Script script(R"lua(
-- The 6-byte big-endian expiry (Unix ms) every stored value starts with (bytes.hpp).
local function expiry_ms(v)
  if string.len(v) < 6 then return 0 end
  local t = 0
  for i = 1, 6 do t = t * 256 + string.byte(v, i) end
  return t
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- PEXPIREAT only ever later: a key lives as long as its longest-lived content. A time
-- already past (a clock far behind the server's) must not delete the key with the rest.
local function extend(key, at)
  if at <= now then return end
  if redis.call('PEXPIRETIME', key) >= at then return end
  redis.call('PEXPIREAT', key, at)
end

-- A sample of a bucket hash's fields: those whose own expiry has passed go.
local function prune(key)
  local sample = redis.call('HRANDFIELD', key, 8, 'WITHVALUES')
  for i = 1, #sample, 2 do
    if expiry_ms(sample[i + 1]) <= now then redis.call('HDEL', key, sample[i]) end
  end
end

local a = 1
local guards = tonumber(ARGV[a]); a = a + 1
for g = 1, guards do
  local key, field, expected = KEYS[tonumber(ARGV[a])], ARGV[a + 1], ARGV[a + 2]
  a = a + 3
  local current
  if field == '' then current = redis.call('GET', key) else current = redis.call('HGET', key, field) end
  if expected == '' then
    if current then return {0, g} end
  elseif current ~= expected then
    return {0, g}
  end
end

local out = {1}
local writes = tonumber(ARGV[a]); a = a + 1
for w = 1, writes do
  local op, key, x, y, z = ARGV[a], KEYS[tonumber(ARGV[a + 1])], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  a = a + 5
  local result = 0
  if op == 'S' then
    if tonumber(y) > 0 then redis.call('SET', key, x, 'PXAT', y) else redis.call('SET', key, x) end
  elseif op == 'H' then
    redis.call('HSET', key, x, y)
    extend(key, tonumber(z))
    prune(key)
  elseif op == 'D' then
    if x == '' then redis.call('DEL', key) else redis.call('HDEL', key, x) end
  elseif op == 'Z' then
    redis.call('ZADD', key, y, x)
    extend(key, tonumber(z))
  elseif op == 'R' then
    redis.call('ZREM', key, x)
  elseif op == 'I' then
    result = redis.call('INCRBY', key, x)
    if result <= 0 then
      redis.call('DEL', key)
    else
      extend(key, tonumber(y))
    end
  else
    return redis.error_reply('ERR otpd commit: unknown write ' .. op)
  end
  out[#out + 1] = result
end
return out
)lua");
  return script;
}

const Script& lease_script() {
  static const Script script(R"lua(
local now, lease, quota = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local skip = {}
for i = 4, #ARGV do skip[ARGV[i]] = true end
local out = {}
local taken, passed, scanned = 0, 0, 0
while taken < quota and scanned < 1024 do
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', passed, 64)
  if #due == 0 then break end
  for i = 1, #due, 2 do
    local member = due[i]
    scanned = scanned + 1
    local tenant = string.match(member, '^([^%z]*)%z')
    if tenant and skip[tenant] then
      passed = passed + 1
    else
      redis.call('ZADD', KEYS[1], 'XX', lease, member)
      out[#out + 1] = member
      out[#out + 1] = due[i + 1]
      out[#out + 1] = redis.call('HGET', KEYS[2], member)
      taken = taken + 1
      if taken == quota then break end
    end
  end
end
return out
)lua");
  return script;
}

}  // namespace otpd::store::redis
