#!/usr/bin/env python3
"""The chaos run's upstream: a front that passes requests to the registry behind it, streaming bodies,
except during a fault burst, when it answers every request with the burst's status (5xx, or 429 with a
Retry-After) without asking the registry. It counts what the proxies got from the registry: GETs per blob
(whole or cut off, and when), GETs and HEADs per manifest reference (for a tag, by the digest it resolved to).
Control, on the same port: POST /__chaos/fault?status=503&seconds=10 starts a burst,
GET /__chaos/counts answers the counts as JSON.
Usage: fault_front.py PORT UPSTREAM_URL"""
import http.client, http.server, json, re, socketserver, sys, threading, time, urllib.parse

port, upstream = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2])
lock = threading.Lock()
fault = {"status": 0, "until": 0.0}
counts = {"blob_gets": {}, "blob_times": {}, "blob_cut": {}, "tag_gets": {}, "tag_heads": {}, "digest_manifest_gets": {}, "faulted": {},
          "other": {}}
BLOB = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")
MANIFEST = re.compile(r"^/v2/(.+)/manifests/([^/?]+)$")


def bump(table, key, by=1):
    with lock:
        counts[table][key] = counts[table].get(key, 0) + by


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def control(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if self.path.startswith("/__chaos/fault"):
            with lock:
                fault["status"] = int(query["status"][0])
                fault["until"] = time.monotonic() + float(query["seconds"][0])
            body = b"ok\n"
        else:
            with lock:
                body = json.dumps(counts).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def faulted(self):
        """Answers the burst's status when a burst is on; True if it did."""
        with lock:
            status = fault["status"] if time.monotonic() < fault["until"] else 0
        if not status:
            return False
        bump("faulted", f"{self.command} {status}")
        body = json.dumps({"errors": [{"code": "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE",
                                       "message": "chaos burst"}]}).encode()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "2")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return True

    def forward(self):
        if self.path.startswith("/__chaos/"):
            return self.control()
        if self.faulted():
            return
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, headers=headers)
        answer = conn.getresponse()
        self.count(answer)
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                while True:
                    chunk = answer.read(1 << 16)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
            except OSError:
                # the proxy hung up mid-body (a replica killed, a download abandoned): a cut transfer
                blob = BLOB.match(self.path)
                if blob:
                    bump("blob_cut", blob.group(2))
                self.close_connection = True
        conn.close()

    def count(self, answer):
        path = urllib.parse.urlparse(self.path).path
        blob, manifest = BLOB.match(path), MANIFEST.match(path)
        if blob and self.command == "GET" and answer.status == 200:
            bump("blob_gets", blob.group(2))
            with lock:
                counts["blob_times"].setdefault(blob.group(2), []).append(time.time())
        elif manifest and answer.status == 200:
            repo, reference = manifest.groups()
            if reference.startswith("sha256:"):
                if self.command == "GET":
                    bump("digest_manifest_gets", f"{repo}@{reference}")
            else:
                resolved = answer.getheader("Docker-Content-Digest", "?")
                bump("tag_gets" if self.command == "GET" else "tag_heads", f"{repo}:{reference}@{resolved}")
        else:
            bump("other", f"{self.command} {answer.status}")

    do_GET = do_HEAD = do_POST = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server(("127.0.0.1", port), Front).serve_forever()
