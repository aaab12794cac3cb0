#!/usr/bin/env bash
# A cache of a million entries (issue 14): start-up to a served cached blob, resident memory against
# the same proxy with an empty cache, and an eviction pass at the bound (restart with a bound 20%
# below what is held: the pass runs in the background while the proxy serves; the proxy logs its
# longest step under the janitor's lock, which is what a download that needs room can wait for).
# Then small blobs, side by side: SMALL cold blobs of SIZE bytes with CLIENTS parallel keep-alive
# downloads (one curl process, bodies checked against their digests after the clock stops) through the
# upstream registry directly, the reference registry in proxy mode and this proxy; and the same again warm.
# This proxy first fetches WARMUP other blobs cold, as a long-running proxy has: the JIT compiles code
# that runs once per request only after 5,000-15,000 calls (C2's thresholds), and on 2 cores those
# compilations (3 s of CPU in the timed window after a warm-up of 12,000) compete with the upstream.
# Usage: bench/million/run.sh   (ENTRIES=1000000 SIZE=1024 SMALL=3000 WARMUP=24000 CLIENTS=8;
#        the filled cache is kept in $CACHE for reruns)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ENTRIES=${ENTRIES:-1000000}
SIZE=${SIZE:-1024}
SMALL=${SMALL:-3000}
WARMUP=${WARMUP:-24000}
CLIENTS=${CLIENTS:-8}
CACHE=${CACHE:-/tmp/pullthrough-million-$ENTRIES}
JAR=${JAR:-$ROOT/proxy-server/target/pullthrough.jar}   # JAR=... measures another build (before/after)
[ -f "$JAR" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)
WORK=$(mktemp -d /tmp/pullthrough-million.XXXXXX)
pid=""
pids=()
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; cp "$WORK"/*.log /tmp/ 2>/dev/null; rm -rf "$WORK" "${BODIES:-}"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss() { awk '/^VmRSS/{print int($2/1024)}' "/proc/$1/status"; }
# CPU seconds a process spent (utime + stime of /proc/PID/stat, children excluded); fields counted
# after the command name's closing parenthesis, which may hold spaces.
TICKS=$(getconf CLK_TCK)
cpu() { sed 's/.*) //' "/proc/$1/stat" | awk -v t="$TICKS" '{printf "%.2f", ($12 + $13) / t}'; }

if [ ! -f "$CACHE/probe" ]; then
  echo "filling $CACHE with $ENTRIES entries of $SIZE bytes..." >&2
  rm -rf "$CACHE"; mkdir -p "$CACHE"
  java -cp "$JAR" "$ROOT/bench/million/FillCache.java" "$CACHE/data" "$ENTRIES" "$SIZE" | awk '/^probe/{print $2}' > "$CACHE/probe"
fi
sync   # the fill's writeback (a gigabyte at a million entries) must not run into the start-up figures
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
longest=$(grep -o 'longest step under the lock [0-9]* ms' "$WORK/evict.log" | grep -o '[0-9]*' | sort -n | tail -1)
evicted=$(grep -o 'evicted [0-9]* entries' "$WORK/evict.log" | grep -o '[0-9]*' | paste -sd+ | bc)
rm -rf "$CACHE"   # the eviction changed it: the next run fills it again

# ---- small blobs: cold and warm, upstream direct vs reference proxy vs this proxy
registry() { # name port [extra config lines...]
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  { printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$WORK/$name/data" "$port"
    for line in "$@"; do printf '%s\n' "$line"; done; } > "$WORK/$name/config.yml"
  docker-registry serve "$WORK/$name/config.yml" > "$WORK/$name.log" 2>&1 &
  pids+=($!)
  until curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; do sleep 0.05; done
}
# The bodies go to memory when it can: creating 3,000 files on disk was a good part of curl's own time.
BODIES=$WORK/out
[ -d /dev/shm ] && [ -w /dev/shm ] && BODIES=$(mktemp -d /dev/shm/pullthrough-bench.XXXXXX)
fetch_all() { # base repo digests -> seconds for GETs of every blob, CLIENTS at a time on keep-alive connections
  local out=$BODIES start end
  rm -rf "$out"; mkdir -p "$out"
  awk -v b="$1" -v r="$2" -v o="$out" '{printf "url = \"%s/v2/%s/blobs/%s\"\noutput = \"%s/%s\"\n", b, r, $1, o, substr($1, 8)}' "$3" > "$WORK/curl.cfg"
  start=$(date +%s%N)
  curl -sf --no-progress-meter -Z --parallel-max "$CLIENTS" -K "$WORK/curl.cfg"
  end=$(date +%s%N)
  [ "$(ls "$out" | wc -l)" = "$(wc -l < "$3")" ] || { echo "missing bodies from $1" >&2; exit 1; }
  (cd "$out" && for f in *; do echo "$f  $f"; done | sha256sum -c --quiet) || { echo "wrong bytes from $1" >&2; exit 1; }
  python3 -c "print(round(($end - $start) / 1e9, 2))"
}
UP=$(free_port); REF=$(free_port); port=$(free_port)
registry upstream "$UP"
registry reference-proxy "$REF" "proxy:" "  remoteurl: http://127.0.0.1:$UP"
REF_PID=${pids[-1]}
PULLTHROUGH_SERVER_HOST=127.0.0.1 PULLTHROUGH_SERVER_PORT=$port PULLTHROUGH_ADMIN_PORT=$port PULLTHROUGH_STORAGE_PATH=$WORK/small \
  PULLTHROUGH_UPSTREAMS_0_URL=http://127.0.0.1:$UP java @"$ROOT/jvm.options" -jar "$JAR" serve > "$WORK/small.log" 2>&1 &
pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; do sleep 0.05; done
javac -d "$WORK/classes" "$ROOT/bench/million/PushBlobs.java"
echo "pushing $((SMALL * 3 + WARMUP)) blobs of $SIZE bytes to the upstream..." >&2
seed=1
for target in upstream reference-proxy pullthrough; do
  java -cp "$WORK/classes" PushBlobs push "http://127.0.0.1:$UP" "small/$target" "$SMALL" "$SIZE" $seed "$WORK/$target.digests"
  seed=$((seed + 1))
done
java -cp "$WORK/classes" PushBlobs push "http://127.0.0.1:$UP" small/warmup "$WARMUP" "$SIZE" $seed "$WORK/warmup.digests"
fetch_all "http://127.0.0.1:$port" small/warmup "$WORK/warmup.digests" > /dev/null   # the JIT warm-up
declare -A small_cold small_warm cpu_cold cpu_warm
UP_PID=${pids[0]}
for target in upstream reference-proxy pullthrough; do
  case $target in
    upstream) base=http://127.0.0.1:$UP; serving=$UP_PID ;;
    reference-proxy) base=http://127.0.0.1:$REF; serving=$REF_PID ;;
    pullthrough) base=http://127.0.0.1:$port; serving=$pid ;;
  esac
  before=$(cpu "$serving")
  small_cold[$target]=$(fetch_all "$base" "small/$target" "$WORK/$target.digests")
  after=$(cpu "$serving")
  small_warm[$target]=$(fetch_all "$base" "small/$target" "$WORK/$target.digests")
  cpu_cold[$target]=$(python3 -c "print(round($after - $before, 2))")
  cpu_warm[$target]=$(python3 -c "print(round($(cpu "$serving") - $after, 2))")
done
stop

cat <<OUT
machine: $(nproc) cores; cache of $ENTRIES entries of $SIZE bytes; small blobs after a warm-up of $WARMUP cold blobs
  start-up to a served cached blob: empty cache ${empty_ms} ms (to /v2/), full cache ${full_ms} ms; restart at the bound ${evict_ms} ms
  background reconcile of index and files: ${reconciled} ms
  resident memory after start-up (idle): empty ${empty_rss} MiB, full ${full_rss} MiB (+$((full_rss - empty_rss)) MiB)
  eviction at the bound: $evicted entries evicted; longest step under the janitor's lock ${longest} ms
  $SMALL cold blobs of $SIZE bytes, $CLIENTS clients (s): upstream direct ${small_cold[upstream]}, reference proxy ${small_cold[reference-proxy]}, pullthrough ${small_cold[pullthrough]} ($(python3 -c "print(round(${small_cold[pullthrough]} / ${small_cold[upstream]}, 2))")x direct)
  CPU seconds of the serving process for the cold blobs: upstream registry ${cpu_cold[upstream]} (direct), reference proxy ${cpu_cold[reference-proxy]}, pullthrough ${cpu_cold[pullthrough]}; warm: ${cpu_warm[upstream]}, ${cpu_warm[reference-proxy]}, ${cpu_warm[pullthrough]}
  the same blobs warm (s): upstream direct ${small_warm[upstream]}, reference proxy ${small_warm[reference-proxy]}, pullthrough ${small_warm[pullthrough]} ($(python3 -c "print(round(${small_warm[reference-proxy]} / ${small_warm[pullthrough]}, 2))")x faster than the reference proxy)
OUT
