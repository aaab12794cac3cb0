"""Issue 26, hole 6, at full size: a hostile upstream redirects every blob to an origin of its own
(127.a.b.c:PORT, all this machine) and serves it there; N pulls go through the proxy. Prints the
proxy's live heap (after a full GC), resident memory and origin pools every STEP pulls.
With REDIRECT=0 in the environment the upstream serves each blob itself: the control run, whose heap
growth is what caching that many distinct blobs costs without a single redirect.
Usage: redirect_origins.py PROXY_PORT PROXY_PID UPSTREAM_PORT N STEP THREADS"""
import hashlib
import http.client
import http.server
import os
import subprocess
import sys
import threading
import time

proxy_port, pid, up_port, total, step, threads = (int(a) for a in sys.argv[1:7])
by_digest = {}
redirect = os.environ.get("REDIRECT", "1") != "0"


def blob(n):
    return b"blob number %d of the redirect-origins bench" % n


def origin(n):
    return "127.%d.%d.%d" % (1 + n // 62500, n // 250 % 250, 1 + n % 250)


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if not self.client_address[0].startswith("127."):
            self.close_connection = True
            return
        path = self.path
        if path.startswith("/v2/bench/app/blobs/sha256:"):
            n = by_digest.get(path[len("/v2/bench/app/blobs/sha256:"):])
            if n is None:
                return self.answer(404)
            if not redirect:
                return self.answer(200, blob(n), [("Content-Type", "application/octet-stream")])
            return self.answer(307, headers=[("Location", "http://%s:%d/cdn/%d" % (origin(n), up_port, n))])
        if path.startswith("/cdn/"):
            return self.answer(200, blob(int(path[5:])), [("Content-Type", "application/octet-stream")])
        if path == "/v2/":
            return self.answer(200, b"{}", [("Content-Type", "application/json")])
        return self.answer(404)

    do_HEAD = do_GET


server = http.server.ThreadingHTTPServer(("0.0.0.0", up_port), Upstream)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()


def rss_mib():
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


def metrics():
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=60)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    heap = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith('jvm_memory_used_bytes{area="heap"'))
    pools = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("pullthrough_upstream_origin_pools{"))
    return heap / 1048576, int(pools)


def live_heap():
    subprocess.run(["jcmd", str(pid), "GC.run"], check=True, stdout=subprocess.DEVNULL)
    return metrics()


failures = []


def pull(start, end):
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=60)
    for n in range(start, end):
        body = blob(n)
        digest = hashlib.sha256(body).hexdigest()
        by_digest[digest] = n
        conn.request("GET", "/v2/bench/app/blobs/sha256:" + digest)
        response = conn.getresponse()
        got = response.read()
        if response.status != 200 or got != body:
            failures.append((n, response.status, got[:200]))
    conn.close()


def batch(start, count):
    per = (count + threads - 1) // threads
    workers = [threading.Thread(target=pull, args=(start + i * per, min(start + count, start + (i + 1) * per)))
               for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


batch(0, min(step, total))  # warm-up
heap0, pools0 = live_heap()
rss0 = rss_mib()
began = time.time()
print("%9s %10s %12s %9s %6s %9s" % ("pulls", "seconds", "live heap", "RSS", "pools", "failures"), flush=True)
print("%9d %10.1f %10.1f M %7.1f M %6d %9d" % (min(step, total), 0, heap0, rss0, pools0, len(failures)), flush=True)
done = min(step, total)
most_heap, most_rss, most_pools = heap0, rss0, pools0
while done < total:
    count = min(step, total - done)
    batch(done, count)
    done += count
    heap, pools = live_heap()
    rss = rss_mib()
    most_heap, most_rss, most_pools = max(most_heap, heap), max(most_rss, rss), max(most_pools, pools)
    print("%9d %10.1f %10.1f M %7.1f M %6d %9d" % (done, time.time() - began, heap, rss, pools, len(failures)), flush=True)
print("RESULT redirect=%d pulls=%d distinct_origins=%d seconds=%.0f live_heap_start=%.1fMiB live_heap_end=%.1fMiB live_heap_max=%.1fMiB "
      "rss_start=%.1fMiB rss_max=%.1fMiB pools_max=%d failures=%d"
      % (redirect, done, done if redirect else 0, time.time() - began, heap0, heap, most_heap, rss0, most_rss, most_pools, len(failures)))
if failures:
    print("first failures:", failures[:3])
sys.exit(1 if failures else 0)
