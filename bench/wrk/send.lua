-- POST /v1/otp/send with a recipient never used before on every request, so no cooldown,
-- window or supersede rule ever applies: the figure is the cost of a new verification.
-- Arguments (after --): <api key> <run tag>. The tag keeps recipients of separate wrk
-- runs against the same server apart (a reused recipient would cancel an earlier code).

local next_id = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  tag = args[2]
  wrk.method = "POST"
  wrk.path = "/v1/otp/send"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function request()
  next_id = next_id + 1
  return wrk.format(nil, nil, nil,
    string.format('{"to":"%s-%d-%d@bench.example.com"}', tag, tid, next_id))
end
