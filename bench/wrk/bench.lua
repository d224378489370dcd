-- bench.lua — the wrk script for every bench/run.sh measurement.
--
-- GET (no WRK_BODIES): wrk sends its own request for the URL given on the command line.
-- POST (WRK_BODIES=file): one JSON body per line, prepared by run.sh from real query texts,
-- each with its own random 32-hex session_id.  All requests are built once in init() and
-- request() only hands the next one out, so wrk spends its core on sending, not on Lua.
--
-- Bad answers: wrk itself counts every status >= 400 (summary.errors.status) at no cost.  With
-- WRK_STATUS_HOOK=1 a response() hook also counts everything outside 2xx (1xx, 3xx too), but
-- any response() hook makes wrk keep each answer's headers and body: measured here it cuts
-- wrk's own rate by ~12 % (nginx /health: 236k -> 209k req/s, nginx then idle 13 % of the
-- time), so the baseline would measure wrk, not nginx.  run.sh therefore checks each endpoint
-- answers 200 with the expected JSON before measuring, and counts >= 400 during the run.
--
-- done() prints one machine-readable line that run.sh parses:
--   WRKSTATS requests=N duration_us=N rps=N p50_us=N p99_us=N status=N non2xx=N|-1 connect=N read=N write=N timeout=N

local bodies_file = os.getenv("WRK_BODIES")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

non2xx = 0
local hook = os.getenv("WRK_STATUS_HOOK") == "1"

if bodies_file and bodies_file ~= "" then
  local reqs = {}
  local n, i = 0, 0

  function init(args)
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(bodies_file) do
      if line ~= "" then
        n = n + 1
        reqs[n] = wrk.format("POST", nil, headers, line)
      end
    end
    assert(n > 0, "bench.lua: no bodies in " .. bodies_file)
  end

  function request()
    i = i + 1
    if i > n then i = 1 end
    return reqs[i]
  end
end

if hook then
  function response(status, headers, body)
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
  end
end

function done(summary, latency, requests)
  local bad = -1
  if hook then
    bad = 0
    for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    "WRKSTATS requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d status=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), e.status, bad, e.connect, e.read, e.write, e.timeout))
end
