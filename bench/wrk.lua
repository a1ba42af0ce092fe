-- SPDX-License-Identifier: GPL-2.0
--
-- bench/wrk.lua: wrk script of `make bench`.
--   BENCH_CLOSE=1      every request says "Connection: close" (one TCP
--                      connection, so one handoff, per request)
--   BENCH_HOST=h       the requests' Host (an IPv6 URL's "[addr]", which
--                      wrk would send without its brackets)
--   BENCH_ADDRS="a:p b:p"  thread i connects to the i-th address (mod n),
--                      "[a]:p" for IPv6: the direct modes spread the
--                      client over both back-ends
--   BENCH_HOSTS="a.example b.example"  each request's Host is one of them,
--                      drawn at random (the mixed workload: a kept-alive
--                      connection's next request names the other Host
--                      every other time on average); with
--                      BENCH_HOSTS_FIXED=1 thread i keeps the i-th (mod n)
--                      for all its requests (mixed-same: no connection
--                      changes Host). Both go through request(), so that
--                      the client does the same work in either.
-- done() prints one line "BENCH {json}": counts, errors and latency
-- percentiles (wrk's latency: request written -> response complete; the
-- TCP handshake is not in it, a handoff is).
if os.getenv("BENCH_CLOSE") == "1" then
   wrk.headers["Connection"] = "close"
end

local host = os.getenv("BENCH_HOST") or ""
if host ~= "" then
   wrk.headers["Host"] = host
end

local addrs = {}
for a in string.gmatch(os.getenv("BENCH_ADDRS") or "", "%S+") do
   -- host:port, or [IPv6]:port
   local h, p = a:match("^%[(.+)%]:(%d+)$")
   if not h then
      h, p = a:match("^([^:]+):(%d+)$")
   end
   addrs[#addrs + 1] = wrk.lookup(h, p)[1]
end

local hosts = {}
for h in string.gmatch(os.getenv("BENCH_HOSTS") or "", "%S+") do
   hosts[#hosts + 1] = h
end

local n = 0
function setup(thread)
   if #addrs > 0 then
      thread.addr = addrs[(n % #addrs) + 1]
   end
   if #hosts > 0 then
      -- The thread's index, for its seed and its fixed Host (init() runs
      -- in the thread's own Lua state, after this).
      thread:set("thread_index", n)
   end
   n = n + 1
end

-- Without BENCH_HOSTS no request() is defined: wrk sends its one static
-- request, as before.
if #hosts > 0 then
   local reqs = {}

   function init(args)
      local i = thread_index or 0
      -- One sequence per thread, the same from run to run.
      math.randomseed(i + 1)
      -- Formatted once: a request is then a table lookup.
      for k, h in ipairs(hosts) do
         local hdr = {}
         for name, value in pairs(wrk.headers) do
            hdr[name] = value
         end
         hdr["Host"] = h
         reqs[k] = wrk.format(nil, nil, hdr)
      end
      if os.getenv("BENCH_HOSTS_FIXED") == "1" then
         reqs = { reqs[(i % #reqs) + 1] }
      end
   end

   function request()
      return reqs[math.random(#reqs)]
   end
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
