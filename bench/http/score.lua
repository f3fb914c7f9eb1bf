-- wrk script: POST /v1/score, rotating over raw credit applications, one request body per line
-- of the file given after "--" (bench/http.sh writes build/bench/score_bodies.jsonl from
-- credit_data.csv with bench/http/score_bodies.mjs). See common.lua for WRK_RATE and the
-- result line. Every request carries a targetingKey of its own (common.lua, unique_keys).
--   wrk -t2 -c64 -d10s -s bench/http/score.lua http://127.0.0.1:PORT/v1/score \
--       -- build/bench/score_bodies.jsonl
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  assert(args[1], "score.lua: pass the request bodies file after --")
  load_bodies(args[1], function(line)
    return line:match("^%s*{") and line or nil
  end, true)
end
