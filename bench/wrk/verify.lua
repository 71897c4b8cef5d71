-- POST /v1/otp/verify {"id","code"} with the right code, each pair used once: every answer
-- should be 200 approved. Arguments (after --): <api key> <pairs file prefix>; thread N
-- reads "<prefix>.N", one "id code" per line, written by bench/run.py from the console
-- channel's output. When a thread runs out it starts over (those answers are 404, which
-- wrk counts as non-2xx) and done() says how many requests reused a pair.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  ids, codes = {}, {}
  for line in io.lines(args[2] .. "." .. tid) do
    local id, code = line:match("^(%S+) (%S+)$")
    if id then
      ids[#ids + 1] = id
      codes[#codes + 1] = code
    end
  end
  if #ids == 0 then error("no pairs in " .. tostring(tid)) end
  navail, taken, nxt = #ids, 0, 0
  wrk.method = "POST"
  wrk.path = "/v1/otp/verify"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function request()
  taken = taken + 1
  nxt = (taken - 1) % navail + 1
  return wrk.format(nil, nil, nil,
    string.format('{"id":"%s","code":"%s"}', ids[nxt], codes[nxt]))
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
