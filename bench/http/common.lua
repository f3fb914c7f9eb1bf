-- Shared by the wrk scripts of bench/http.sh (ofrep.lua, score.lua): POST bodies from a file,
-- one per line, rotated per request; an optional fixed offered rate; one JSON line at the end.
--
-- Environment:
--   WRK_RATE=R      offered rate, requests per second over all threads (unset: closed loop,
--                   every connection sends its next request as soon as the answer is in)
--   WRK_THREADS=T   wrk's -t, needed with WRK_RATE (each thread paces R/T)
--
-- Fixed rate: each wrk thread keeps one schedule of send slots, 1/(R/T) apart, and every
-- connection, before each request, takes the next slot and waits for it (wrk's delay() hook,
-- whole milliseconds; the schedule is absolute, so rounding never drifts the rate). A server
-- that keeps up is offered R req/s whatever its latency; one that cannot falls behind the
-- schedule and the rows' rps shows it (the loop is then closed again: a connection never has
-- two requests in flight, and the time a request waited for its connection counts nowhere,
-- so the latency of a saturated server is understated).
--
-- The latency object done() receives is wrk's after its coordinated-omission correction:
-- every answer slower than twice a connection's mean interval between requests adds synthetic
-- samples (the answer's latency minus one interval, minus two, ...), so stalls weigh in the
-- mean and the percentiles.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } rd_timespec;
  int clock_gettime(int clk, rd_timespec *ts);
]]
local ts = ffi.new("rd_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e3 + tonumber(ts.tv_nsec) / 1e6
end

local threads_seen = 0
function setup(thread)
  thread:set("thread_id", threads_seen)
  threads_seen = threads_seen + 1
end

-- The request bodies: one per non-empty line of path, turned into a whole request by
-- wrap(line) (nil skips the line); formatted once here, so the client does no work per request.
-- unique_keys: every request gets a targetingKey of its own (the body's "targetingKey":"..."
-- replaced by thread and request number, fixed width so the Content-Length holds), as every
-- application comes from its own applicant: rotating a few thousand bodies would otherwise
-- replay a few thousand applicants, whose fixed split between a rollout's versions is not the
-- plan's weight (its sample-ratio test rightly fails over a long run). One string.format and
-- one concatenation a request.
local reqs, tails, nreqs, at, sent = {}, {}, 0, 0, 0
local KEY = "k000000000000" -- the width of a key: "k", thread (2 digits), request (10 digits)
function load_bodies(path, wrap, unique_keys)
  local f = assert(io.open(path, "r"))
  local headers = { ["Content-Type"] = "application/json" }
  for line in f:lines() do
    local body = wrap(line)
    if body then
      nreqs = nreqs + 1
      if unique_keys then
        local n
        body, n = body:gsub('"targetingKey":"[^"]*"', '"targetingKey":"' .. KEY .. '"', 1)
        assert(n == 1, path .. ": a body without a targetingKey")
        local r = wrk.format("POST", wrk.path, headers, body)
        local i = assert(r:find(KEY, 1, true))
        reqs[nreqs], tails[nreqs] = r:sub(1, i - 1), r:sub(i + #KEY)
      else
        reqs[nreqs] = wrk.format("POST", wrk.path, headers, body)
      end
    end
  end
  f:close()
  assert(nreqs > 0, path .. ": no request bodies")
  -- threads start at different places in the list
  at = ((thread_id or 0) * 7919) % nreqs
  if unique_keys then
    request = function()
      at = at % nreqs + 1
      sent = sent + 1
      return reqs[at] .. string.format("k%02d%010d", thread_id or 0, sent) .. tails[at]
    end
  end
end

function request()
  at = at % nreqs + 1
  return reqs[at]
end

local rate = tonumber(os.getenv("WRK_RATE") or "")
if rate and rate > 0 then
  local threads = tonumber(os.getenv("WRK_THREADS") or "1")
  local interval = 1e3 * threads / rate -- ms between two sends of this thread
  local next_slot
  function delay()
    local now = now_ms()
    local slot = next_slot or now
    next_slot = slot + interval
    local wait = slot - now
    return wait > 0 and math.floor(wait) or 0
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local ms = function(us) return us / 1e3 end
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"offered_rps":%s,' ..
    '"latency_ms":{"mean":%.3f,"p50":%.3f,"p99":%.3f,"max":%.3f},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    summary.requests, secs, summary.requests / secs, rate and string.format("%d", rate) or "null",
    ms(latency.mean), ms(latency:percentile(50)), ms(latency:percentile(99)), ms(latency.max),
    e.connect, e.read, e.write, e.timeout, e.status))
end
