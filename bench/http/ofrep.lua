-- wrk script: OFREP single-flag evaluation, POST {"context": ...} rotating over the contexts
-- of bench/flags/contexts.json (1,024 users, one JSON object per line), so every request has
-- its own targetingKey. See common.lua for WRK_RATE and the result line.
--   wrk -t2 -c100 -d10s -s bench/http/ofrep.lua \
--       http://127.0.0.1:PORT/ofrep/v1/evaluate/flags/fractional-flag -- bench/flags/contexts.json
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  load_bodies(args[1] or dir .. "../flags/contexts.json", function(line)
    local ctx = line:match("^%s*(%{.*%})%s*,?%s*$")
    return ctx and ('{"context":' .. ctx .. '}')
  end)
end
