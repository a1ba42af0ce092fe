-- SPDX-License-Identifier: GPL-2.0
--
-- bench/wrk.lua: wrk script of `make bench`.
--   BENCH_CLOSE=1      every request says "Connection: close" (one TCP
--                      connection, so one handoff, per request)
--   BENCH_ADDRS="a:p b:p"  thread i connects to the i-th address (mod n):
--                      the direct mode spreads the client over both back-ends
-- done() prints one line "BENCH {json}": counts, errors and latency
-- percentiles (wrk's latency: request written -> response complete; the
-- TCP handshake is not in it, a handoff is).
if os.getenv("BENCH_CLOSE") == "1" then
   wrk.headers["Connection"] = "close"
end

local addrs = {}
for a in string.gmatch(os.getenv("BENCH_ADDRS") or "", "%S+") do
   local h, p = a:match("^([^:]+):(%d+)$")
   addrs[#addrs + 1] = wrk.lookup(h, p)[1]
end

local n = 0
function setup(thread)
   if #addrs > 0 then
      thread.addr = addrs[(n % #addrs) + 1]
   end
   n = n + 1
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
      '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max))
end
