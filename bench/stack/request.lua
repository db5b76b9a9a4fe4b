-- wrk script of `make bench-stack`: one request, the same every time, from the environment:
-- WRK_METHOD (GET), WRK_BODY (a JSON body, sent with Content-Type: application/json),
-- WRK_TOKEN (sent as Authorization: Bearer), WRK_IF_NONE_MATCH. No Idempotency-Key: each POST
-- creates a new record with an id the server chooses.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
    wrk.body = body
    wrk.headers["Content-Type"] = "application/json"
end
local token = os.getenv("WRK_TOKEN")
if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end
local etag = os.getenv("WRK_IF_NONE_MATCH")
if etag and etag ~= "" then
    wrk.headers["If-None-Match"] = etag
end

-- Count answers by status, so a run of 401s, 429s or 5xx cannot pass for throughput.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local merged = {}
    for _, thread in ipairs(threads) do
        local counts = thread:get("statuses")
        for status, count in pairs(counts) do
            merged[status] = (merged[status] or 0) + count
        end
    end
    local parts = {}
    for status, count in pairs(merged) do
        table.insert(parts, string.format("%d=%d", status, count))
    end
    io.write(string.format("STATUSES %s\n", table.concat(parts, ",")))
    io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
        + summary.errors.status))
end
