#!/usr/bin/env bash
# Refresh-ahead for hot tags (issue 28), side by side in one run: wrk on one tag through two proxies
# whose upstream answers every request 200 ms late (bench/refresh-ahead/delaying_front.py, in front of
# the reference registry): one with tagTtl 2s, where the tag expires five times a 10 s run and
# refresh-ahead revalidates it in the background before each expiry, and one with tagTtl 1h, where it
# never expires. Prints requests/s, p99 and max latency of each, their ratios, and the HEADs and GETs
# the upstream saw (about one HEAD per TTL is the goal; a client that waited on a revalidation shows
# up as a max of 200 ms or more).
# Needs: docker-registry, wrk, curl, python3, java 17; builds the jar if missing.
# Usage: bench/refresh-ahead/run.sh   (SECONDS_RUN=10 CONNECTIONS=32 DELAY_MS=200)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_RUN=${SECONDS_RUN:-10}
CONNECTIONS=${CONNECTIONS:-32}
DELAY_MS=${DELAY_MS:-200}
JAR=${JAR:-$ROOT/proxy-server/target/pullthrough.jar}
[ -f "$JAR" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)
WORK=$(mktemp -d /tmp/pullthrough-refresh.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

UP_PORT=$(free_port); FRONT_PORT=$(free_port)
UPSTREAM=http://127.0.0.1:$UP_PORT
mkdir -p "$WORK/upstream"
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$WORK/upstream/data" "$UP_PORT" > "$WORK/upstream/config.yml"
docker-registry serve "$WORK/upstream/config.yml" > "$WORK/upstream/log" 2>&1 &
pids+=($!)
wait_http "$UPSTREAM/v2/"

# One small image, tag v1: a config blob and a manifest naming it.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$WORK/config"
CONFIG=sha256:$(sha256sum "$WORK/config" | cut -d' ' -f1)
location=$(curl -sf -X POST -D - -o /dev/null "$UPSTREAM/v2/bench/hot/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
[[ $location == http* ]] || location="$UPSTREAM$location"
sep='?'; [[ $location == *\?* ]] && sep='&'
curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/config" "$location${sep}digest=$CONFIG" -o /dev/null
printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%s,"digest":"%s"},"layers":[]}' \
  "$(stat -c %s "$WORK/config")" "$CONFIG" > "$WORK/manifest"
curl -sf -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' --data-binary @"$WORK/manifest" \
  "$UPSTREAM/v2/bench/hot/manifests/v1" -o /dev/null

start_proxy() { # name ttl -> sets PORT
  local name=$1 ttl=$2 port counts
  port=$(free_port); counts=$(free_port)
  python3 "$ROOT/bench/refresh-ahead/delaying_front.py" "$counts" "$UPSTREAM" "$DELAY_MS" "$WORK/$name.counts" > "$WORK/$name.front.log" 2>&1 &
  pids+=($!)
  mkdir -p "$WORK/$name"
  cat > "$WORK/$name/config.yml" <<YAML
server:
  host: 127.0.0.1
  port: $port
admin:
  port: $(free_port)
storage:
  path: $WORK/$name/data
upstreams:
  - name: docker.io
    url: http://127.0.0.1:$counts
    tagTtl: $ttl
YAML
  MALLOC_ARENA_MAX=2 java "@$ROOT/jvm.options" -jar "$JAR" serve --config "$WORK/$name/config.yml" > "$WORK/$name/log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/v2/"
  PORT=$port
}
ACCEPT='application/vnd.docker.distribution.manifest.v2+json'
declare -A rps p99 max seen
for name in ttl-2s ttl-1h; do
  [ $name = ttl-2s ] && ttl=2s || ttl=1h
  start_proxy $name $ttl
  url=http://127.0.0.1:$PORT/v2/bench/hot/manifests/v1
  curl -sf -o /dev/null -H "Accept: $ACCEPT" "$url"                                    # the tag cached
  wrk -t2 -c"$CONNECTIONS" -d3s -H "Accept: $ACCEPT" "$url" > /dev/null                 # and the JIT warm
  before=$(cat "$WORK/$name.counts")   # the front counts from its start: what the timed run added is the difference
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency -H "Accept: $ACCEPT" "$url")
  rps[$name]=$(echo "$out" | awk '/^Requests\/sec/{print $2}')
  p99[$name]=$(echo "$out" | awk '$1=="99%"{print $2}')
  max[$name]=$(echo "$out" | awk '$1=="Latency"{print $4}')
  seen[$name]=$(python3 -c 'import sys
count = lambda text: dict(kv.split("=") for kv in text.split())
before, after = count(sys.argv[1]), count(sys.argv[2])
print(" ".join(f"{k}={int(v) - int(before.get(k, 0))}" for k, v in sorted(after.items()) if int(v) > int(before.get(k, 0))) or "none")' "$before" "$(cat "$WORK/$name.counts")")
done
python3 - "${rps[ttl-2s]}" "${p99[ttl-2s]}" "${max[ttl-2s]}" "${rps[ttl-1h]}" "${p99[ttl-1h]}" "${max[ttl-1h]}" "$SECONDS_RUN" "$DELAY_MS" <<'PY'
import sys
def ms(t):
    for unit, f in (("us", 0.001), ("ms", 1), ("s", 1000)):
        if t.endswith(unit) and (unit != "s" or not t.endswith("ms") and not t.endswith("us")):
            return float(t[:-len(unit)]) * f
    return float(t)
r2, p2, m2, r1, p1, m1, secs, delay = sys.argv[1:]
print(f"refresh-ahead: wrk on one tag for {secs} s, upstream answering {delay} ms late")
print(f"{'':12} {'req/s':>10} {'p99 ms':>8} {'max ms':>8}")
print(f"{'tagTtl 2s':12} {float(r2):>10.0f} {ms(p2):>8.2f} {ms(m2):>8.2f}")
print(f"{'tagTtl 1h':12} {float(r1):>10.0f} {ms(p1):>8.2f} {ms(m1):>8.2f}")
print(f"ratio 2s/1h: p99 {ms(p2) / ms(p1):.2f}x, max {ms(m2) / ms(m1):.2f}x (goal: within 2x)")
PY
echo "upstream requests during the timed run: tagTtl 2s: ${seen[ttl-2s]:-none}; tagTtl 1h: ${seen[ttl-1h]:-none} (goal: about one HEAD per TTL, $((SECONDS_RUN / 2)) for 2s, and no GET of an unchanged tag)"
