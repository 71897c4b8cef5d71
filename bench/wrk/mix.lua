-- A mix in equal parts: send to a new recipient, verify a fresh pair with its right code,
-- read the status of the pair verified just before. Arguments (after --): <api key>
-- <run tag> <pairs file prefix>, as for send.lua and verify.lua; pairs are used once and
-- done() reports reuse the same way.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  tag = args[2]
  ids, codes = {}, {}
  for line in io.lines(args[3] .. "." .. tid) do
    local id, code = line:match("^(%S+) (%S+)$")
    if id then
      ids[#ids + 1] = id
      codes[#codes + 1] = code
    end
  end
  if #ids == 0 then error("no pairs in " .. tostring(tid)) end
  navail, taken, nxt, n, sent = #ids, 0, 0, 0, 0
  auth = "Bearer " .. args[1]
  json_headers = { ["Content-Type"] = "application/json", ["Authorization"] = auth }
  get_headers = { ["Authorization"] = auth }
end

function request()
  n = n + 1
  local kind = n % 3
  if kind == 1 then
    sent = sent + 1
    return wrk.format("POST", "/v1/otp/send", json_headers,
      string.format('{"to":"%s-%d-%d@bench.example.com"}', tag, tid, sent))
  elseif kind == 2 or nxt == 0 then
    taken = taken + 1
    nxt = (taken - 1) % navail + 1
    return wrk.format("POST", "/v1/otp/verify", json_headers,
      string.format('{"id":"%s","code":"%s"}', ids[nxt], codes[nxt]))
  else
    return wrk.format("GET", "/v1/otp/" .. ids[nxt], get_headers)
  end
end

function done(summary, latency, requests)
  local available, used, reused = 0, 0, 0
  for _, t in ipairs(threads) do
    local navail, taken = t:get("navail"), t:get("taken")
    available = available + navail
    used = used + math.min(taken, navail)
    reused = reused + math.max(taken - navail, 0)
  end
  io.write(string.format("bench-pairs: available=%d used=%d reused=%d\n",
    available, used, reused))
end
