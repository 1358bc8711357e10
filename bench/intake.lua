-- wrk script of bench/intake: replays a pre-generated request mix.
-- Arguments (after --): FILE START KEY1 TOKEN1 KEY2 TOKEN2 ...
-- FILE has one request per line: "<source index>\t<content type>\t<body>" (written by
-- bench/intake.py). Requests are built once in init(), so the run itself
-- only hands out ready strings. Use one wrk thread (-t1): the file is
-- replayed in order from line START + 1, so a returning client comes after
-- its first visit and successive runs on one database send new clients.

local reqs = {}
local n = 0
local i = 0

function init(args)
  local paths, tokens = {}, {}
  for a = 3, #args, 2 do
    local s = (a - 3) / 2
    paths[s] = "/webhooks/" .. args[a]
    tokens[s] = args[a + 1]
  end
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    local tab2 = line:find("\t", tab + 1, true)
    local s = tonumber(line:sub(1, tab - 1))
    n = n + 1
    reqs[n] = wrk.format("POST", paths[s], {
      ["Content-Type"] = line:sub(tab + 1, tab2 - 1),
      ["X-Webhook-Token"] = tokens[s],
    }, line:sub(tab2 + 1))
  end
  i = tonumber(args[2]) % n
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
