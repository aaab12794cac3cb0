#!/usr/bin/env python3
"""A front that answers like the upstream behind it, each answer DELAY_MS later (the 100-300 ms a
Docker Hub HEAD takes from a site), and counts the requests by method: what a proxy asked the
upstream. Usage: delaying_front.py PORT UPSTREAM_URL DELAY_MS COUNTS_FILE"""
import http.client, http.server, socketserver, sys, threading, time, urllib.parse

port, upstream, delay, counts_file = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2]), int(sys.argv[3]) / 1000, sys.argv[4]
counts, lock = {}, threading.Lock()

class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def forward(self):
        key = self.command + (" manifest" if "/manifests/" in self.path else " other")
        with lock:
            counts[key] = counts.get(key, 0) + 1
            with open(counts_file, "w") as f:
                f.write(" ".join(f"{k.replace(' ', '_')}={v}" for k, v in sorted(counts.items())) + "\n")
        time.sleep(delay)
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", answer.getheader("Content-Length", str(len(body))) if self.command == "HEAD" else str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        conn.close()
    do_GET = do_HEAD = forward

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

Server(("127.0.0.1", port), Front).serve_forever()
