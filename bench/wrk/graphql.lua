-- wrk script for the billing GraphQL API (used by bench/throughput.py).
--
--   wrk -t1 -c32 -d10s -s bench/wrk/graphql.lua http://127.0.0.1:8000/graphql \
--       -- <transfer|resupply|read|hold-capture> <first wallet id> <wallet count> <seed> [amount]
--
-- Every request picks its wallets at random from first .. first + count - 1 (a transfer: two
-- distinct ones, in a random direction). Each response is classified by its GraphQL
-- `__typename` (a read by whether the wallet came back), by its HTTP status otherwise. The `done`
-- hook prints one line "WRK_RESULT <json>" with the counts and the latency percentiles.
--
-- hold-capture is two requests: holdTransfer, then captureHold of the hold it made. wrk asks
-- for a connection's next request without saying which connection it is for, so a thread keeps
-- one queue: each hold that succeeds is queued, and the next request of any of its connections
-- captures the oldest queued hold (else makes a new hold). Each hold carries a reference of its
-- own, which its answer repeats, so the script times every hold + capture from the hold's
-- request to the capture's answer (clock_gettime through LuaJIT's ffi); WRK_RESULT then also
-- has "operation_us", the percentiles of those, while "latency_us" stays per request. Holds
-- still queued when the time is up stay pending (they expire).

local TRANSFER = "mutation($i: TransferInput!) { transfer(input: $i) { __typename } }"
local RESUPPLY = "mutation($i: ResupplyInput!) { resupply(input: $i) { __typename } }"
local READ = "query($id: ID!) { wallet(id: $id) { balance } }"
local HOLD = "mutation($i: HoldTransferInput!) { holdTransfer(input: $i) { __typename"
  .. " ... on HoldTransferSuccess { hold { id reference } } } }"
local CAPTURE = "mutation($i: CaptureHoldInput!) { captureHold(input: $i) { __typename"
  .. " ... on CaptureHoldSuccess { hold { id } } } }"

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } graphql_lua_timespec;
int clock_gettime(int clock_id, graphql_lua_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("graphql_lua_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + math.floor(tonumber(timespec.tv_nsec) / 1000)
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local kind, first, count, amount
local headers = {}
counts = {}
operations = {} -- hold-capture: microseconds from each hold's request to its capture's answer
local queue, queue_head, queue_tail = {}, 1, 0 -- holds made, waiting for their capture
local hold_started = {} -- reference -> when its hold was requested
local capture_started = {} -- hold id -> when the hold being captured was requested
local serial = 0

function init(args)
  kind = args[1]
  first = tonumber(args[2])
  count = tonumber(args[3])
  amount = args[5] or "1.00"
  for k, v in pairs(wrk.headers) do -- keeps headers given with -H (Authorization, say)
    headers[k] = v
  end
  headers["Content-Type"] = "application/json"
  math.randomseed(tonumber(args[4]) * 7919 + (thread_no or 1))
  if kind ~= "transfer" and kind ~= "resupply" and kind ~= "read" and kind ~= "hold-capture" then
    error("unknown kind " .. tostring(kind))
  end
  if (kind == "transfer" or kind == "hold-capture") and count < 2 then
    error("a transfer needs at least two wallets")
  end
end

local function two_wallets()
  local a = math.random(0, count - 1)
  local b = math.random(0, count - 2)
  if b >= a then
    b = b + 1
  end
  return first + a, first + b
end

function request()
  local body
  if kind == "transfer" then
    local a, b = two_wallets()
    body = string.format(
      '{"query":"%s","variables":{"i":{"walletFromId":"%d","walletToId":"%d","amount":"%s"}}}',
      TRANSFER, a, b, amount)
  elseif kind == "hold-capture" and queue_head <= queue_tail then
    local held = queue[queue_head]
    queue[queue_head] = nil
    queue_head = queue_head + 1
    capture_started[held.id] = held.started
    body = string.format('{"query":"%s","variables":{"i":{"holdId":"%s"}}}', CAPTURE, held.id)
  elseif kind == "hold-capture" then
    local a, b = two_wallets()
    serial = serial + 1
    local reference = string.format("wrk-%d-%d", thread_no or 1, serial)
    hold_started[reference] = now_us()
    body = string.format(
      '{"query":"%s","variables":{"i":{"walletFromId":"%d","walletToId":"%d","amount":"%s",'
        .. '"reference":"%s"}}}',
      HOLD, a, b, amount, reference)
  elseif kind == "resupply" then
    body = string.format(
      '{"query":"%s","variables":{"i":{"walletId":"%d","amount":"%s"}}}',
      RESUPPLY, first + math.random(0, count - 1), amount)
  else
    body = string.format('{"query":"%s","variables":{"id":"%d"}}',
      READ, first + math.random(0, count - 1))
  end
  return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
  local key
  if status ~= 200 then
    key = "HTTP " .. status
  elseif kind == "read" then
    if body:find('"balance":%s*"') then
      key = "Wallet"
    elseif body:find('"wallet":%s*null') then
      key = "null"
    else
      key = "errors"
    end
  else
    key = body:match('"__typename":%s*"([%w_]+)"') or "errors"
  end
  counts[key] = (counts[key] or 0) + 1
  if key == "HoldTransferSuccess" then
    local id = body:match('"id":%s*"(%d+)"')
    local reference = body:match('"reference":%s*"([^"]*)"')
    if id and reference and hold_started[reference] then
      queue_tail = queue_tail + 1
      queue[queue_tail] = { id = id, started = hold_started[reference] }
    end
    hold_started[reference or ""] = nil
  elseif key == "CaptureHoldSuccess" then
    local id = body:match('"id":%s*"(%d+)"')
    if id and capture_started[id] then
      operations[#operations + 1] = now_us() - capture_started[id]
      capture_started[id] = nil
    end
  end
end

local function percentile(sorted, pct)
  if #sorted == 0 then
    return 0
  end
  local rank = math.max(1, math.ceil(pct / 100 * #sorted))
  return sorted[math.min(rank, #sorted)]
end

function done(summary, latency, requests)
  local total = {}
  local timed = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c) do
      total[k] = (total[k] or 0) + v
    end
    for _, v in ipairs(thread:get("operations")) do
      timed[#timed + 1] = v
    end
  end
  table.sort(timed)
  local operation = ""
  if #timed > 0 then
    operation = string.format(',"operation_us":{"p50":%d,"p95":%d,"p99":%d,"max":%d}',
      percentile(timed, 50), percentile(timed, 95), percentile(timed, 99), timed[#timed])
  end
  local parts = {}
  for k, v in pairs(total) do
    parts[#parts + 1] = string.format('"%s":%d', k, v)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p95":%d,"p99":%d,"max":%d},'
      .. '"counts":{%s}%s}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    table.concat(parts, ","), operation))
end
