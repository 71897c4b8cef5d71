-- GET /v1/otp/{id} over ids of existing verifications (reading does not consume, so ids
-- are cycled). Arguments (after --): <api key> <pairs file prefix> as for verify.lua.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  paths = {}
  for line in io.lines(args[2] .. "." .. tid) do
    local id = line:match("^(%S+)")
    if id then paths[#paths + 1] = "/v1/otp/" .. id end
  end
  if #paths == 0 then error("no ids in " .. tostring(tid)) end
  nxt = 0
  wrk.method = "GET"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function request()
  nxt = nxt % #paths + 1
  return wrk.format(nil, paths[nxt])
end
