-- wrk script for the billing GraphQL API (used by bench/throughput.py).
--
--   wrk -t1 -c32 -d10s -s bench/wrk/graphql.lua http://127.0.0.1:8000/graphql \
--       -- <transfer|resupply|read> <first wallet id> <wallet count> <seed> [amount]
--
-- Every request picks its wallets at random from first .. first + count - 1 (a transfer: two
-- distinct ones, in a random direction). Each response is classified by its GraphQL
-- `__typename` (a read by whether the wallet came back), by its HTTP status otherwise. The `done`
-- hook prints one line "WRK_RESULT <json>" with the counts and the latency percentiles.

local TRANSFER = "mutation($i: TransferInput!) { transfer(input: $i) { __typename } }"
local RESUPPLY = "mutation($i: ResupplyInput!) { resupply(input: $i) { __typename } }"
local READ = "query($id: ID!) { wallet(id: $id) { balance } }"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local kind, first, count, amount
local headers = {}
counts = {}

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
  if kind ~= "transfer" and kind ~= "resupply" and kind ~= "read" then
    error("unknown kind " .. tostring(kind))
  end
  if kind == "transfer" and count < 2 then
    error("a transfer needs at least two wallets")
  end
end

function request()
  local body
  if kind == "transfer" then
    local a = math.random(0, count - 1)
    local b = math.random(0, count - 2)
    if b >= a then
      b = b + 1
    end
    body = string.format(
      '{"query":"%s","variables":{"i":{"walletFromId":"%d","walletToId":"%d","amount":"%s"}}}',
      TRANSFER, first + a, first + b, amount)
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
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c) do
      total[k] = (total[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(total) do
    parts[#parts + 1] = string.format('"%s":%d', k, v)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p95":%d,"p99":%d,"max":%d},'
      .. '"counts":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    table.concat(parts, ",")))
end
