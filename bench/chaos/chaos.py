#!/usr/bin/env python3
"""The chaos run's images and clients (bench/chaos/run.sh calls it).

  chaos.py setup REGISTRY_URL IMAGES_JSON
      pushes the images straight to the registry: IMAGES images chaos/img<N>:v1 (a base layer shared by
      a group of four, two small layers, one of 0.5-2 MiB; every eighth also one of BIG_MIB, which the
      proxy uploads to the bucket as it arrives, in parts) and MOVING repositories chaos/moving<N>:latest,
      and writes what it pushed (every tag's digests) to IMAGES_JSON.
  chaos.py pull LB_URL REGISTRY_URL IMAGES_JSON SECONDS STOP_FILE RESULT_JSON
      CLIENTS threads pull through LB_URL until STOP_FILE exists (the schedule's end; at most 3 x SECONDS):
      a manifest by tag (its sha256 must be the Docker-Content-Digest the proxy sent, and one of the digests the tag ever had upstream), then every
      blob it names (each body's sha256 must be its digest). The mix changes: a window of WINDOW images
      slides over the list in SECONDS, so images go cold then warm then out of use, beside the moving
      repositories, whose tags a mover thread re-pushes straight to the registry every MOVE_EVERY seconds
      (new layer, new config). A pull that fails is tried again (ATTEMPTS in all, 1 s then 2 s apart).
      Writes tries, successes, failures grouped by why, and wrong bodies to RESULT_JSON.
  chaos.py report RESULT_JSON COUNTS_JSON EVENTS
      prints the clients' figures and the upstream's GETs per blob and per tag against the minimum, each
      blob GET beyond the first put down to the schedule step it followed (EVENTS: "epoch|step" lines).
"""
import collections, hashlib, http.client, json, os, random, sys, threading, time, urllib.parse

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------- pushing
class Pusher:
    """Pushes blobs (monolithic upload) and manifests straight to the registry."""

    def __init__(self, url):
        self.url = urllib.parse.urlparse(url)
        self.pushed = set()

    def connection(self):
        return http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=120)

    def blob(self, repo, data):
        digest = sha(data)
        if (repo, digest) in self.pushed:
            return digest, len(data)
        conn = self.connection()
        conn.request("POST", f"/v2/{repo}/blobs/uploads/")
        answer = conn.getresponse()
        answer.read()
        location = urllib.parse.urlparse(answer.getheader("Location"))
        target = location.path + "?" + (location.query + "&" if location.query else "") + "digest=" + digest
        conn.request("PUT", target, body=data, headers={"Content-Type": "application/octet-stream"})
        answer = conn.getresponse()
        answer.read()
        conn.close()
        if answer.status != 201:
            raise RuntimeError(f"pushing blob {digest} to {repo}: HTTP {answer.status}")
        self.pushed.add((repo, digest))
        return digest, len(data)

    def image(self, repo, tag, layers, label):
        """Pushes the layers, a config naming them and the manifest under tag; returns its digest and blobs."""
        config, manifest = build(layers, label)
        blobs = [self.blob(repo, data)[0] for data in [config] + layers]
        conn = self.connection()
        conn.request("PUT", f"/v2/{repo}/manifests/{tag}", body=manifest, headers={"Content-Type": MANIFEST_TYPE})
        answer = conn.getresponse()
        answer.read()
        conn.close()
        if answer.status != 201:
            raise RuntimeError(f"pushing manifest {repo}:{tag}: HTTP {answer.status}")
        return sha(manifest), blobs


def build(layers, label):
    """An image's config and manifest bytes for these layers: the manifest's digest is known before a push."""
    descriptors = [dict(mediaType=LAYER_TYPE, digest=sha(l), size=len(l)) for l in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"chaos": label}},
                         "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                           "config": {"mediaType": CONFIG_TYPE, "digest": sha(config), "size": len(config)},
                           "layers": descriptors}).encode()
    return config, manifest


def setup(registry, images_json):
    images, moving, big_mib = int(os.environ.get("IMAGES", 24)), int(os.environ.get("MOVING", 3)), int(os.environ.get("BIG_MIB", 48))
    pusher = Pusher(registry)
    bases = [os.urandom(random.randint(256, 1024) << 10) for _ in range((images + 3) // 4)]
    plan = {"images": [], "moving": []}
    for n in range(images):
        layers = [bases[n // 4], os.urandom(random.randint(1, 64) << 10), os.urandom(random.randint(1, 64) << 10),
                  os.urandom(random.randint(512, 2048) << 10)]
        if n % 8 == 5:
            layers.append(os.urandom(big_mib << 20))
        digest, blobs = pusher.image(f"chaos/img{n}", "v1", layers, f"img{n}")
        plan["images"].append({"repo": f"chaos/img{n}", "tag": "v1", "digests": [digest], "blobs": len(blobs),
                               "big": n % 8 == 5})
    for n in range(moving):
        digest, _ = pusher.image(f"chaos/moving{n}", "latest", [bases[0], os.urandom(32 << 10)], f"moving{n} v0")
        plan["moving"].append({"repo": f"chaos/moving{n}", "tag": "latest", "digests": [digest]})
    with open(images_json, "w") as f:
        json.dump(plan, f)
    total = sum(len(b) for b in bases)
    print(f"pushed {images} images ({images // 8 + (1 if images % 8 > 5 else 0)} with a {big_mib} MiB layer) and "
          f"{moving} moving tags; {len(bases)} base layers of {total >> 10} KiB in all")


# ---------------------------------------------------------------------------------------------- pulling
class PullFailed(Exception):
    """A pull that failed visibly: a status, a cut-off body, a refused connection."""


class WrongBytes(Exception):
    """A complete body whose bytes are not what its digest says: must never happen."""


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pulls = self.first_try = self.after_retry = self.gave_up = 0
        self.attempt_failures = collections.Counter()
        self.gave_up_why = collections.Counter()
        self.examples = {}
        self.wrong = []
        self.blobs_verified = self.bytes_verified = 0
        self.digests_seen = collections.defaultdict(set)

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


class Client:
    """One client: one keep-alive connection to the load balancer, pulls until told to stop."""

    def __init__(self, lb, known, tally):
        self.lb, self.known, self.tally = lb, known, tally
        self.conn = None

    def get(self, path, accept=None):
        """GET path, reading the body in chunks; returns its status, response, sha256, length, and the body
        itself for a manifest or a refusal (a blob's bytes are only hashed)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.lb.hostname, self.lb.port, timeout=60)
        try:
            self.conn.request("GET", path, headers={"Accept": accept} if accept else {})
            answer = self.conn.getresponse()
            hasher, length, body = hashlib.sha256(), 0, b""
            while True:
                chunk = answer.read(1 << 16)
                if not chunk:
                    break
                hasher.update(chunk)
                length += len(chunk)
                if accept or answer.status != 200:
                    body += chunk
            if answer.getheader("Connection", "").lower() == "close":
                self.close()
            promised = answer.getheader("Content-Length")
            if promised is not None and length < int(promised):
                # http.client's read(n) ends quietly at an early EOF: a body shorter than its
                # Content-Length is a transfer cut off (a replica killed mid-stream), not wrong bytes
                self.close()
                raise PullFailed("body cut off")
            return answer.status, answer, "sha256:" + hasher.hexdigest(), length, body
        except http.client.IncompleteRead:
            self.close()
            raise PullFailed("body cut off")
        except ConnectionRefusedError:
            self.close()
            raise PullFailed("connection refused")
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            raise PullFailed("connection closed")
        except TimeoutError:
            self.close()
            raise PullFailed("timed out (60 s)")
        except OSError as e:
            self.close()
            raise PullFailed(type(e).__name__)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @staticmethod
    def refusal(what, status, body):
        try:
            error = json.loads(body)["errors"][0]
            code, message = error["code"], error.get("message", "")
        except Exception:
            code, message = "", body[:200].decode(errors="replace")
        failed = PullFailed(f"{what} HTTP {status} {code}".rstrip())
        failed.example = message   # the proxy's words, shown once per kind of failure
        return failed

    def pull(self, repo, tag):
        status, answer, digest, length, body = self.get(f"/v2/{repo}/manifests/{tag}", ACCEPT)
        if status != 200:
            raise self.refusal("manifest", status, body)
        said = answer.getheader("Docker-Content-Digest")
        if digest != said:
            raise WrongBytes(f"manifest {repo}:{tag}: body hashes to {digest}, header says {said}")
        if digest not in self.known[(repo, tag)]:
            raise WrongBytes(f"manifest {repo}:{tag}: {digest} was never that tag upstream")
        with self.tally.lock:
            self.tally.digests_seen[(repo, tag)].add(digest)
        manifest = json.loads(body)
        for descriptor in [manifest["config"]] + manifest["layers"]:
            status, answer, got, length, body = self.get(f"/v2/{repo}/blobs/{descriptor['digest']}")
            if status != 200:
                raise self.refusal("blob", status, body)
            if got != descriptor["digest"] or length != descriptor["size"]:
                raise WrongBytes(f"blob {descriptor['digest']} of {repo}: {length} bytes hashing to {got}")
            self.tally.add(blobs_verified=1, bytes_verified=length)

    def run(self, choose, until, attempts):
        while not until():
            repo, tag = choose()
            self.tally.add(pulls=1)
            for attempt in range(attempts):
                try:
                    self.pull(repo, tag)
                    self.tally.add(first_try=1) if attempt == 0 else self.tally.add(after_retry=1)
                    break
                except PullFailed as e:
                    with self.tally.lock:
                        self.tally.attempt_failures[str(e)] += 1
                        self.tally.examples.setdefault(str(e), getattr(e, "example", ""))
                    if attempt == attempts - 1:
                        with self.tally.lock:
                            self.tally.gave_up += 1
                            self.tally.gave_up_why[str(e)] += 1
                    else:
                        time.sleep(1 << attempt)
                except WrongBytes as e:
                    with self.tally.lock:
                        self.tally.wrong.append(str(e))
                    self.close()
                    break


def mover(registry, plan, known, lock, until, every):
    """Re-pushes the moving tags, one at a time, with new content; a digest is known before it is pushed."""
    pusher, version = Pusher(registry), 0
    while True:
        next_move = time.monotonic() + every
        while time.monotonic() < next_move:
            if until():
                return
            time.sleep(0.5)
        entry = plan["moving"][version % len(plan["moving"])]
        version += 1
        layers = [os.urandom(random.randint(8, 64) << 10)]
        label = f"{entry['repo']} v{version}"
        # known before the PUT: a client may see the new digest a moment after it
        digest = sha(build(layers, label)[1])
        with lock:
            known[(entry["repo"], entry["tag"])].add(digest)
        pushed, _ = pusher.image(entry["repo"], entry["tag"], layers, label)
        assert pushed == digest, (pushed, digest)
        entry["digests"].append(digest)


def pull(lb_url, registry, images_json, seconds, stop_file, result_json):
    clients, window = int(os.environ.get("CLIENTS", 30)), int(os.environ.get("WINDOW", 8))
    attempts, every = int(os.environ.get("ATTEMPTS", 3)), float(os.environ.get("MOVE_EVERY", 15))
    with open(images_json) as f:
        plan = json.load(f)
    known = collections.defaultdict(set)
    for entry in plan["images"] + plan["moving"]:
        known[(entry["repo"], entry["tag"])].update(entry["digests"])
    started = time.monotonic()
    deadline = started + 3 * seconds
    until = lambda: os.path.exists(stop_file) or time.monotonic() > deadline
    images, moving = plan["images"], plan["moving"]
    lock = threading.Lock()

    def choose():
        # the window slides from the first images to the last over the run; a third of the pulls are of
        # the moving tags
        if random.random() < 1 / 3:
            entry = random.choice(moving)
        else:
            progress = min(1.0, (time.monotonic() - started) / seconds)
            first = int(progress * max(0, len(images) - window))
            entry = random.choice(images[first:first + window])
        return entry["repo"], entry["tag"]

    tally = Tally()
    lb = urllib.parse.urlparse(lb_url)
    threads = [threading.Thread(target=Client(lb, known, tally).run, args=(choose, until, attempts)) for _ in range(clients)]
    threads.append(threading.Thread(target=mover, args=(registry, plan, known, lock, until, every)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moved = {f"{r}:{t}": len(d) for (r, t), d in tally.digests_seen.items() if r.startswith("chaos/moving")}
    versions = {f"{e['repo']}:{e['tag']}": len(e["digests"]) for e in moving}
    result = dict(clients=clients, seconds=round(time.monotonic() - started), pulls=tally.pulls, first_try=tally.first_try,
                  after_retry=tally.after_retry, gave_up=tally.gave_up, wrong=tally.wrong,
                  attempt_failures=dict(tally.attempt_failures), gave_up_why=dict(tally.gave_up_why), examples=tally.examples,
                  blobs_verified=tally.blobs_verified, bytes_verified=tally.bytes_verified,
                  moving_digests_seen=moved, moving_versions=versions,
                  unfinished=tally.pulls - tally.first_try - tally.after_retry - tally.gave_up - len(tally.wrong))
    with open(result_json, "w") as f:
        json.dump(result, f)


# ---------------------------------------------------------------------------------------------- report
def report(result_json, counts_json, events_file):
    with open(result_json) as f:
        r = json.load(f)
    with open(counts_json) as f:
        c = json.load(f)
    with open(events_file) as f:
        events = [(float(t), step) for t, step in (line.rstrip("\n").split("|", 1) for line in f)]
    print(f"clients: {r['clients']} over {r['seconds']} s")
    print(f"  pulls tried {r['pulls']}: succeeded {r['first_try'] + r['after_retry']} ({r['first_try']} at once, "
          f"{r['after_retry']} after a retry), failed visibly {r['gave_up']} (after every retry)")
    for why, n in sorted(r["gave_up_why"].items(), key=lambda kv: -kv[1]):
        print(f"    gave up: {n:5}  {why}")
    print(f"  attempts that failed visibly: {sum(r['attempt_failures'].values())}")
    for why, n in sorted(r["attempt_failures"].items(), key=lambda kv: -kv[1]):
        example = r.get("examples", {}).get(why)
        print(f"    {n:5}  {why}" + (f"  (e.g. \"{example[:160]}\")" if example else ""))
    print(f"  bodies verified: {r['blobs_verified']} blobs ({r['bytes_verified'] >> 20} MiB), every manifest too")
    print(f"  WRONG BYTES: {len(r['wrong'])}")
    for line in r["wrong"][:10]:
        print(f"    {line}")
    seen = ", ".join(f"{tag} {n} of {r['moving_versions'].get(tag, '?')}" for tag, n in sorted(r["moving_digests_seen"].items()))
    print(f"  moving tags: digests clients saw, of the versions pushed: {seen}")

    gets = c["blob_gets"]
    extra = {d: n for d, n in gets.items() if n > 1}
    print("upstream (what the fault front passed to the registry):")
    print(f"  blob GETs: {sum(gets.values())} for {len(gets)} distinct blobs (minimum {len(gets)}); "
          f"fetched more than once: {len(extra)} blobs ({sum(extra.values()) - len(extra)} extra GETs)"
          + (f", most {max(extra.values())}" if extra else "") + f"; cut off mid-body: {sum(c['blob_cut'].values())}")
    after = collections.Counter()
    for times in c["blob_times"].values():
        for t in sorted(times)[1:]:
            steps = [step for at, step in events if at <= t]
            after[steps[-1] if steps else "before the first step"] += 1
    for step, n in sorted(after.items(), key=lambda kv: -kv[1]):
        print(f"    extra GETs after \"{step}\": {n}")
    tags = c["tag_gets"]
    per_tag = collections.Counter(key.split("@")[0] for key in tags)
    print(f"  manifest GETs by tag: {sum(tags.values())} for {len(tags)} tag versions (minimum {len(tags)}; "
          f"{len(per_tag)} tags); HEADs by tag: {sum(c['tag_heads'].values())}; "
          f"GETs by digest: {sum(c['digest_manifest_gets'].values())}")
    again = sorted(((n, k) for k, n in tags.items() if n > 1), reverse=True)[:5]
    if again:
        print("    tag versions fetched more than once: " + ", ".join(f"{k.split('@')[0]}@{k.split('@')[1][7:19]} x{n}" for n, k in again))
    print(f"  answered by the fault bursts instead: {', '.join(f'{k}: {n}' for k, n in sorted(c['faulted'].items())) or 'none'}")
    if c["other"]:
        print(f"  other requests (blob HEADs, /v2/): {', '.join(f'{k}: {n}' for k, n in sorted(c['other'].items()))}")
    return 1 if r["wrong"] else 0


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "setup":
        setup(*args)
    elif command == "pull":
        pull(args[0], args[1], args[2], float(args[3]), args[4], args[5])
    elif command == "report":
        sys.exit(report(*args))
    else:
        sys.exit(f"unknown command {command}")
