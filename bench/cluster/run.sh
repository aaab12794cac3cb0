#!/usr/bin/env bash
# A cluster of three replicas (issue 18): CLIENTS concurrent clients (default 30) spread over three
# replicas, all asking for one cold BLOB_MIB blob (default 256) at once. Side by side: the same three
# replicas on the same bucket without Redis (each fetches for itself), then with `cluster` (Redis,
# peer streaming). Prints the upstream's GETs of the blob (from the registry's access log), whether
# every client got the right digest, and the clients' time to first byte (from sending the request to
# the response's first byte).
# Usage: bench/cluster/run.sh   (BLOB_MIB=256 CLIENTS=30); needs docker-registry, redis-server, curl,
# python3, and test-tools/s3proxy built (mvn -B -DskipTests package does it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BLOB_MIB=${BLOB_MIB:-256}
CLIENTS=${CLIENTS:-30}
WARM_BLOBS=${WARM_BLOBS:-40}
JAR=$ROOT/proxy-server/target/pullthrough.jar
CLASSPATH_FILE=$ROOT/test-tools/s3proxy/target/s3proxy.classpath
[ -f "$JAR" ] && [ -f "$CLASSPATH_FILE" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)
WORK=$(mktemp -d /tmp/pullthrough-clusterbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 600); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

# ---- the upstream registry (its access log counts the GETs), with two big blobs and small warm-up ones
UP=$(free_port)
mkdir -p "$WORK/upstream"
printf 'version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$WORK/upstream/data" "$UP" > "$WORK/upstream/config.yml"
docker-registry serve "$WORK/upstream/config.yml" > "$WORK/upstream/log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$UP/v2/"
push() { # file -> prints its digest
  local digest location sep
  digest=sha256:$(sha256sum "$1" | cut -d' ' -f1)
  location=$(curl -sf -X POST -D - -o /dev/null "http://127.0.0.1:$UP/v2/bench/big/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  [[ $location == http* ]] || location="http://127.0.0.1:$UP$location"
  sep='?'; [[ $location == *\?* ]] && sep='&'
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$1" "$location${sep}digest=$digest" -o /dev/null
  echo "$digest"
}
head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/alone.blob"
head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/cluster.blob"
ALONE=$(push "$WORK/alone.blob"); CLUSTERED=$(push "$WORK/cluster.blob")
WARM=()
for i in $(seq 1 "$WARM_BLOBS"); do head -c 65536 /dev/urandom > "$WORK/warm.blob"; WARM+=("$(push "$WORK/warm.blob")"); done
rm -f "$WORK"/*.blob

# ---- S3Proxy (a fresh one for each scenario: the previous one's uploads do not slow the next) and Redis
S3=; AK=bench; SK=bench-secret; s3pid=
start_s3() { # name
  [ -n "$s3pid" ] && { kill "$s3pid"; wait "$s3pid" 2>/dev/null || true; }
  S3=$(free_port)
  mkdir -p "$WORK/s3-$1/data"
  printf 's3proxy.endpoint=http://127.0.0.1:%s\ns3proxy.authorization=aws-v2-or-v4\ns3proxy.identity=%s\ns3proxy.credential=%s\njclouds.provider=filesystem\njclouds.filesystem.basedir=%s\n' \
    "$S3" "$AK" "$SK" "$WORK/s3-$1/data" > "$WORK/s3-$1/s3proxy.properties"
  java -DLOG_LEVEL=warn -cp "$(cat "$CLASSPATH_FILE")" org.gaul.s3proxy.Main --properties "$WORK/s3-$1/s3proxy.properties" \
    > "$WORK/s3-$1/log" 2>&1 &
  s3pid=$!; pids+=($s3pid)
  for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$S3/" && break; sleep 0.1; done
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X PUT "http://127.0.0.1:$S3/shared" -o /dev/null
}
REDIS=$(free_port)
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" > "$WORK/redis.log" 2>&1 & pids+=($!)
printf 'a-shared-secret-for-the-bench\n' > "$WORK/secret"

replicas=(); replica_pids=()
start_replicas() { # with-cluster(yes|no) -> starts three replicas, fills replicas[] with their ports
  replicas=(); replica_pids=()
  for name in a b c; do
    local port; port=$(free_port)
    local cluster=()
    if [ "$1" = yes ]; then
      cluster=(PULLTHROUGH_CLUSTER_REDIS=redis://127.0.0.1:$REDIS PULLTHROUGH_CLUSTER_ADVERTISE=http://127.0.0.1:$port
               PULLTHROUGH_CLUSTER_SECRETFILE=$WORK/secret)
    fi
    env PULLTHROUGH_SERVER_HOST=127.0.0.1 PULLTHROUGH_SERVER_PORT=$port PULLTHROUGH_ADMIN_PORT=$port \
      PULLTHROUGH_STORAGE_PATH=$WORK/$1-$name PULLTHROUGH_UPSTREAMS_0_URL=http://127.0.0.1:$UP \
      PULLTHROUGH_STORAGE_S3_BUCKET=shared PULLTHROUGH_STORAGE_S3_ENDPOINT=http://127.0.0.1:$S3 \
      PULLTHROUGH_STORAGE_S3_PATHSTYLE=true PULLTHROUGH_STORAGE_S3_ACCESSKEY=$AK PULLTHROUGH_STORAGE_S3_SECRETKEY=$SK \
      "${cluster[@]}" java @"$ROOT/jvm.options" -jar "$JAR" serve > "$WORK/$1-$name.log" 2>&1 &
    pids+=($!); replica_pids+=($!)
    replicas+=("$port")
  done
  for port in "${replicas[@]}"; do wait_http "http://127.0.0.1:$port/v2/"; done
}

upstream_gets() { grep -c "\"GET /v2/bench/big/blobs/$1 " "$WORK/upstream/log" || true; }

run() { # label with-cluster blob warm-up-blobs(first..last index)
  start_s3 "$2"
  start_replicas "$2"
  # Warm JITs, as in a running deployment: the replicas' (small cold blobs asked of all three at once, so
  # that the lease and peer paths run too) and S3Proxy's (a fresh JVM answers its first requests 5x slower).
  for i in $(seq "$4" "$5"); do
    for port in "${replicas[@]}"; do curl -sf -o /dev/null "http://127.0.0.1:$port/v2/bench/big/blobs/${WARM[$i]}" & done
    wait_curls
  done
  for i in $(seq 1 300); do
    curl -s -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      -I "http://127.0.0.1:$S3/shared/warm-up-$i"
  done
  # One client process, a thread per client (forking 30 curls and their hashers would load the 2 cores the
  # replicas need just when the first bytes are timed); each connects, then all send at once.
  python3 - "$CLIENTS" "$3" "$1" "${replicas[@]}" <<'PY'
import hashlib, http.client, statistics, sys, threading, time
n, digest, label = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ports = sys.argv[4:]
go = threading.Barrier(n)
results = [None] * n
def client(i):
    connection = http.client.HTTPConnection("127.0.0.1", int(ports[i % len(ports)]), timeout=600)
    connection.connect()
    go.wait()
    started = time.monotonic()
    connection.request("GET", "/v2/bench/big/blobs/" + digest)
    response = connection.getresponse()
    first = (time.monotonic() - started) * 1000
    sha = hashlib.sha256()
    while True:
        chunk = response.read(1 << 20)
        if not chunk:
            break
        sha.update(chunk)
    results[i] = (response.status, "sha256:" + sha.hexdigest() == digest, first)
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
ttfb = sorted(r[2] for r in results)
right = sum(1 for r in results if r[0] == 200 and r[1])
print(f"  {label:<38} right digest: {right}/{n}   first byte median {statistics.median(ttfb):.0f} ms, "
      f"p90 {ttfb[int(n * 0.9) - 1]:.0f} ms, max {ttfb[-1]:.0f} ms", end="")
PY
  echo "   upstream GETs of the blob: $(upstream_gets "$3")"
  kill "${replica_pids[@]}" 2>/dev/null || true
  wait "${replica_pids[@]}" 2>/dev/null || true
}
wait_curls() { while pgrep -f "curl -s" > /dev/null; do sleep 0.05; done; }

echo "machine: $(nproc) cores; $CLIENTS clients over 3 replicas, one cold ${BLOB_MIB} MiB blob at once:"
half=$((WARM_BLOBS / 2))
run "3 replicas on one bucket, no cluster" no "$ALONE" 0 $((half - 1))
run "3 replicas, cluster (Redis + peers)" yes "$CLUSTERED" "$half" $((WARM_BLOBS - 1))
