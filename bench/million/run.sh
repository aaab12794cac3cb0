#!/usr/bin/env bash
# A cache of a million entries (issue 14): start-up to a served cached blob, resident memory against
# the same proxy with an empty cache, and an eviction pass at the bound (restart with a bound 20%
# below what is held: the pass runs in the background while the proxy serves; the proxy logs its
# longest step under the janitor's lock, which is what a download that needs room can wait for).
# Usage: bench/million/run.sh   (ENTRIES=1000000 SIZE=1024; the filled cache is kept in $CACHE for reruns)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ENTRIES=${ENTRIES:-1000000}
SIZE=${SIZE:-1024}
CACHE=${CACHE:-/tmp/pullthrough-million-$ENTRIES}
JAR=$ROOT/proxy-server/target/pullthrough.jar
[ -f "$JAR" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)
WORK=$(mktemp -d /tmp/pullthrough-million.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; cp "$WORK"/*.log /tmp/ 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss() { awk '/^VmRSS/{print int($2/1024)}' "/proc/$1/status"; }

if [ ! -f "$CACHE/probe" ]; then
  echo "filling $CACHE with $ENTRIES entries of $SIZE bytes..." >&2
  rm -rf "$CACHE"; mkdir -p "$CACHE"
  java -cp "$JAR" "$ROOT/bench/million/FillCache.java" "$CACHE/data" "$ENTRIES" "$SIZE" | awk '/^probe/{print $2}' > "$CACHE/probe"
fi
PROBE=$(cat "$CACHE/probe")
HELD=$((ENTRIES * SIZE))

serve() { # storage-path max-size log probe-path -> sets pid, port, ms (to the first answer of probe-path)
  local path=$1 max=$2 log=$3 probe=$4 start
  port=$(free_port)
  start=$(date +%s%N)
  PULLTHROUGH_SERVER_HOST=127.0.0.1 PULLTHROUGH_SERVER_PORT=$port PULLTHROUGH_ADMIN_PORT=$port PULLTHROUGH_STORAGE_PATH=$path \
    PULLTHROUGH_STORAGE_MAXSIZE=$max PULLTHROUGH_UPSTREAMS_0_NAME=u PULLTHROUGH_UPSTREAMS_0_URL=http://127.0.0.1:9 \
    java @"$ROOT/jvm.options" -jar "$JAR" serve > "$log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port$probe"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.02
  done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

serve "$WORK/empty" 100GiB "$WORK/empty.log" /v2/; empty_ms=$ms
sleep 5; empty_rss=$(rss "$pid"); stop

serve "$CACHE/data" 100GiB "$WORK/full.log" "/v2/bench/million/blobs/$PROBE"; full_ms=$ms
until grep -q 'storage reconciled' "$WORK/full.log"; do sleep 0.5; done
sleep 5; full_rss=$(rss "$pid"); stop
reconciled=$(grep -o 'storage reconciled in [0-9]* ms' "$WORK/full.log" | grep -o '[0-9]*')

# At the bound: a restart with 80% of what is held evicts down to 90% of that in the background.
bound=$((HELD * 8 / 10))
serve "$CACHE/data" "${bound}B" "$WORK/evict.log" "/v2/bench/million/blobs/$PROBE"; evict_ms=$ms
until grep -q 'evicted .* entries' "$WORK/evict.log"; do sleep 0.5; done
stop
grep 'evicted .* entries' "$WORK/evict.log" >&2
longest=$(grep -o 'longest step [0-9]* ms' "$WORK/evict.log" | grep -o '[0-9]*' | sort -n | tail -1)
evicted=$(grep -o 'evicted [0-9]* entries' "$WORK/evict.log" | grep -o '[0-9]*' | paste -sd+ | bc)
rm -rf "$CACHE"   # the eviction changed it: the next run fills it again

cat <<OUT
machine: $(nproc) cores; cache of $ENTRIES entries of $SIZE bytes
  start-up to a served cached blob: empty cache ${empty_ms} ms (to /v2/), full cache ${full_ms} ms; restart at the bound ${evict_ms} ms
  background reconcile of index and files: ${reconciled} ms
  resident memory after start-up (idle): empty ${empty_rss} MiB, full ${full_rss} MiB (+$((full_rss - empty_rss)) MiB)
  eviction at the bound: $evicted entries evicted; longest step under the janitor's lock ${longest} ms
OUT
