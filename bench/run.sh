#!/usr/bin/env bash
# The benchmark, side by side in one run on loopback: this proxy ("pullthrough"), the reference
# registry in proxy mode ("reference-proxy": docker-registry with proxy.remoteurl), nginx with
# sendfile reading the same bytes from disk (the practical limit of this machine), nginx proxy_cache
# in front of the upstream (for warm manifests) and the upstream registry itself:
#   1. warm manifest GET by digest and by tag: requests/s and p99 latency (wrk, 64 connections);
#   2. warm blob throughput of a 512 MiB blob (median of 5 curl downloads);
#   3. cold pull time of a 5-layer image with skopeo (a fresh image per run, so every cache is cold);
#   4. 20 concurrent cold requests for one 512 MiB blob: bytes the upstream served, wall time, each
#      client's time to first byte;
#   5. resident memory of each proxy after the runs, and under 200 concurrent slow blob streams;
#   6. CPU seconds per GiB of each serving process (utime + stime of /proc/PID/stat, sampled before and,
#      for cold blobs, after the scenario once the process is idle again (the reference proxy stores a cold
#      blob in the background after its client is served), children excluded; nginx: the sum of its
#      workers) for the one-client cold blob, the crowd (per GiB sent to the 20 clients) and the warm
#      blob, and the floor of this machine:
#      SHA-256 (sha256sum, and openssl, which uses the CPU's SHA instructions) and dd (into a fresh file,
#      fsynced) of a blob of the same size, measured alone (issue 28). Each path's one-client cold blob
#      starts on an idle disk (sync first), after SOLO_WARMUPS unmeasured cold blobs through each proxy,
#      with the upstream's copy of the blob read into memory first;
#      for it the CPU that the upstream, the client (curl) and the proxy spent while it ran, against what
#      the cores had in its wall time: a path near 100% busy is bound by this machine's CPU.
# Prints one table with the ratios of this proxy to each peer, and a JSON line (also written to
# bench/results/latest.json). Stops every process it started.
# Needs: docker-registry, skopeo, nginx, wrk, curl, python3, java 17; builds the jar if missing.
# Usage: bench/run.sh   (BLOB_MIB=512 RUNS=5 COLD_RUNS=3 LAYER_MIB=16 SLOW_STREAMS=200 WRK_SECONDS=10 WARM_SECONDS=10
#                        SOLO_WARMUPS=2)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BLOB_MIB=${BLOB_MIB:-512}
RUNS=${RUNS:-5}
COLD_RUNS=${COLD_RUNS:-3}
LAYER_MIB=${LAYER_MIB:-16}
SLOW_STREAMS=${SLOW_STREAMS:-200}
SOLO_WARMUPS=${SOLO_WARMUPS:-2}
WRK_SECONDS=${WRK_SECONDS:-10}
WARM_SECONDS=${WARM_SECONDS:-10}
JAVA_OPTS=${JAVA_OPTS:-"@$ROOT/jvm.options"}   # the same options the README's run command uses
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}  # and the same environment
WORK=$(mktemp -d /tmp/pullthrough-bench.XXXXXX)
chmod 755 "$WORK"   # nginx workers (not root) read the blob from here
JAR=${JAR:-$ROOT/proxy-server/target/pullthrough.jar}   # JAR=... measures another build (before/after)
[ -f "$JAR" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# CPU seconds of processes (utime + stime of /proc/PID/stat, children excluded), summed; the fields
# are counted after the command name's closing parenthesis, which may hold spaces.
TICKS=$(getconf CLK_TCK)
cpu() { for p in "$@"; do sed 's/.*) //' "/proc/$p/stat" || echo "cpu: process $p is gone" >&2; done | awk -v t="$TICKS" '{s += $12 + $13} END {printf "%.2f", s / t}'; }
# CPU seconds once the processes are done with a scenario: the reference proxy stores a cold blob in the
# background, from a second upstream download, after its client is served; that CPU counts too. Samples
# every half second until two differ by less than 0.02 s (at most 10 s).
cpu_settled() {
  local prev cur
  cur=$(cpu "$@")
  for _ in $(seq 1 20); do
    sleep 0.5
    prev=$cur; cur=$(cpu "$@")
    awk -v a="$prev" -v b="$cur" 'BEGIN { exit !(b - a < 0.02) }' && break
  done
  echo "$cur"
}
# CPU seconds per GiB: cpu-before cpu-after MiB
per_gib() { python3 -c "print(round(($2 - $1) / ($3 / 1024), 3))"; }
# CPU seconds (user + system) a command spent, run alone
cpu_of() { python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN); print(round(r.ru_utime + r.ru_stime, 3))' "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; exit 1
}
start_registry() { # name port accesslog-disabled [extra config lines...]
  local name=$1 port=$2 quiet=$3; shift 3
  mkdir -p "$WORK/$name"
  { printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: %s\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$quiet" "$WORK/$name/data" "$port"
    for line in "$@"; do printf '%s\n' "$line"; done; } > "$WORK/$name/config.yml"
  docker-registry serve "$WORK/$name/config.yml" > "$WORK/$name/log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/v2/"
}
push_blob() { # repo file -> prints the digest
  local digest location sep
  digest=sha256:$(sha256sum "$2" | cut -d' ' -f1)
  location=$(curl -sf -X POST -D - -o /dev/null "$UPSTREAM/v2/$1/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  [[ $location == http* ]] || location="$UPSTREAM$location"
  sep='?'; [[ $location == *\?* ]] && sep='&'
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$2" "$location${sep}digest=$digest" -o /dev/null
  echo "$digest"
}
push_image() { # repo -> a docker schema 2 image of 5 random layers
  local repo=$1 layers="" digest size config
  for i in 1 2 3 4 5; do
    head -c $((LAYER_MIB << 20)) /dev/urandom > "$WORK/layer"
    digest=$(push_blob "$repo" "$WORK/layer"); size=$(stat -c %s "$WORK/layer")
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":$size,\"digest\":\"$digest\"}"
  done
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$WORK/config"
  config=$(push_blob "$repo" "$WORK/config")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%s,"digest":"%s"},"layers":[%s]}' \
    "$(stat -c %s "$WORK/config")" "$config" "$layers" > "$WORK/manifest"
  curl -sf -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' --data-binary @"$WORK/manifest" \
    "$UPSTREAM/v2/$repo/manifests/v1" -o /dev/null
}

# ---- the parts
UP_PORT=$(free_port); REF_PORT=$(free_port); PT_PORT=$(free_port); NGINX_PORT=$(free_port); CACHE_PORT=$(free_port)
UPSTREAM=http://127.0.0.1:$UP_PORT
start_registry upstream "$UP_PORT" false
start_registry reference-proxy "$REF_PORT" true "proxy:" "  remoteurl: $UPSTREAM"
REF_PID=${pids[-1]}
mkdir -p "$WORK/pullthrough"
PULLTHROUGH_SERVER_HOST=127.0.0.1 PULLTHROUGH_SERVER_PORT=$PT_PORT PULLTHROUGH_ADMIN_PORT=$PT_PORT \
  PULLTHROUGH_STORAGE_PATH="$WORK/pullthrough/data" PULLTHROUGH_UPSTREAMS_0_URL=$UPSTREAM \
  java $JAVA_OPTS -jar "$JAR" serve > "$WORK/pullthrough/log" 2>&1 &
pids+=($!)
PT_PID=$!
wait_http "http://127.0.0.1:$PT_PORT/v2/"

echo "preparing a ${BLOB_MIB} MiB blob and $COLD_RUNS images of 5 x ${LAYER_MIB} MiB layers..." >&2
mkdir -p "$WORK/www"
head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/www/blob"
chmod 755 "$WORK/www"; chmod 644 "$WORK/www/blob"
BLOB=$(push_blob bench/big "$WORK/www/blob")
# One crowd blob per proxy, so the upstream's access log says which proxy fetched what.
declare -A CROWD
for target in reference-proxy pullthrough; do
  head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/crowd"
  CROWD[$target]=$(push_blob bench/crowd "$WORK/crowd")
done
rm -f "$WORK/crowd"
# One fresh blob per path for a single cold client (the upstream direct reads its own copy too).
declare -A SOLO
for target in upstream reference-proxy pullthrough; do
  head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/solo"
  SOLO[$target]=$(push_blob bench/solo "$WORK/solo")
done
# And, per proxy, cold blobs of the same size that its one-client path takes before the measured one.
declare -A SOLO_WARMUP
for target in reference-proxy pullthrough; do
  for run in $(seq 1 "$SOLO_WARMUPS"); do
    head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/solo"
    SOLO_WARMUP[$target]+="$(push_blob bench/solo-warmup "$WORK/solo") "
  done
done
rm -f "$WORK/solo"
push_image bench/manifest
push_image bench/warmup
for run in $(seq 1 "$COLD_RUNS"); do push_image "bench/cold$run"; done

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 2;
error_log $WORK/nginx/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
  # nginx proxy_cache in front of the upstream: the practical limit of a manifest cache (it keys by
  # URL and Accept, and knows nothing of registries: no negotiation, no revalidation, no outage logic).
  proxy_cache_path $WORK/nginx/cache keys_zone=registry:10m;
  server {
    listen 127.0.0.1:$CACHE_PORT;
    access_log $WORK/nginx/access.log;   # pullthrough writes an access log line per request too
    location /v2/ {
      proxy_pass $UPSTREAM;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache registry;
      proxy_cache_key "\$request_uri \$http_accept";
      proxy_cache_valid 200 10m;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
    }
  }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" &
pids+=($!)
NGINX_PID=$!
wait_http "http://127.0.0.1:$NGINX_PORT/blob"
# Its workers only: the cache loader it also starts exits after a minute.
NGINX_WORKERS=$(pgrep -P "$NGINX_PID" -f 'worker process' | tr '\n' ' ')
UP_PID=${pids[0]}

# ---- 6. the floor of this machine: hashing and writing the blob's bytes, each alone
sha256sum "$WORK/www/blob" > /dev/null   # the bytes in the page cache, as the proxies get them from a socket
floor_sha=$(per_gib 0 "$(cpu_of sha256sum "$WORK/www/blob")" "$BLOB_MIB")
# Debian's sha256sum does not use the CPU's SHA instructions; OpenSSL (and the JDK's intrinsic) do where
# the CPU has them: that is the hashing floor a proxy can reach.
floor_openssl=$(per_gib 0 "$(cpu_of openssl dgst -sha256 "$WORK/www/blob")" "$BLOB_MIB")
floor_dd=$(per_gib 0 "$(cpu_of dd if="$WORK/www/blob" of="$WORK/floor" bs=1M conv=fsync)" "$BLOB_MIB")
rm -f "$WORK/floor"

# ---- warm-up: a long-running proxy has a warm JIT; pull one image through each before measuring
for port in "$REF_PORT" "$PT_PORT"; do
  rm -rf "$WORK/out"
  skopeo --insecure-policy copy --src-tls-verify=false "docker://127.0.0.1:$port/bench/warmup:v1" "dir:$WORK/out" > /dev/null
done

# ---- cold pulls: a fresh image per run, through each path
declare -A cold
for target in upstream reference-proxy pullthrough; do
  case $target in
    upstream) host=127.0.0.1:$UP_PORT ;;
    reference-proxy) host=127.0.0.1:$REF_PORT ;;
    pullthrough) host=127.0.0.1:$PT_PORT ;;
  esac
  times=""
  for run in $(seq 1 "$COLD_RUNS"); do
    # Each target pulls image cold$run once; upstream first, so its page cache is as warm for all.
    rm -rf "$WORK/out"
    start=$(date +%s.%N)
    skopeo --insecure-policy copy --src-tls-verify=false "docker://$host/bench/cold$run:v1" "dir:$WORK/out" > /dev/null
    times+="$(python3 -c "print($(date +%s.%N) - $start)") "
  done
  cold[$target]=$times
done

# ---- warm blob throughput: fill each cache once, then RUNS timed downloads
serving_pids() { # target -> the processes that serve it
  case $1 in upstream) echo "$UP_PID" ;; reference-proxy) echo "$REF_PID" ;; pullthrough) echo "$PT_PID" ;; nginx-sendfile) echo "$NGINX_WORKERS" ;; esac
}
declare -A speed cpu_warm cpu_crowd cpu_solo
for target in upstream reference-proxy pullthrough nginx-sendfile; do
  case $target in
    upstream) url=http://127.0.0.1:$UP_PORT/v2/bench/big/blobs/$BLOB ;;
    reference-proxy) url=http://127.0.0.1:$REF_PORT/v2/bench/big/blobs/$BLOB ;;
    pullthrough) url=http://127.0.0.1:$PT_PORT/v2/bench/big/blobs/$BLOB ;;
    nginx-sendfile) url=http://127.0.0.1:$NGINX_PORT/blob ;;
  esac
  curl -sf -o /dev/null "$url"
  serving=$(serving_pids "$target")
  before=$(cpu $serving)
  speeds=""
  for _ in $(seq 1 "$RUNS"); do
    speeds+="$(curl -sf -o /dev/null -w '%{speed_download}' "$url") "
  done
  speed[$target]=$speeds
  cpu_warm[$target]=$(per_gib "$before" "$(cpu $serving)" $((RUNS * BLOB_MIB)))
done

# ---- 1. warm manifests with wrk, by tag and by digest
ACCEPT='application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
MANIFEST_DIGEST=$(curl -sf -o /dev/null -D - -H "Accept: $ACCEPT" "$UPSTREAM/v2/bench/manifest/manifests/v1" | tr -d '\r' | awk 'tolower($1)=="docker-content-digest:"{print $2}')
declare -A wrk_rps wrk_p99
for target in upstream reference-proxy pullthrough nginx-proxy-cache; do
  case $target in
    upstream) base=http://127.0.0.1:$UP_PORT ;;
    reference-proxy) base=http://127.0.0.1:$REF_PORT ;;
    pullthrough) base=http://127.0.0.1:$PT_PORT ;;
    nginx-proxy-cache) base=http://127.0.0.1:$CACHE_PORT ;;
  esac
  for ref in tag digest; do
    [ $ref = tag ] && url=$base/v2/bench/manifest/manifests/v1 || url=$base/v2/bench/manifest/manifests/$MANIFEST_DIGEST
    curl -sf -o /dev/null -H "Accept: $ACCEPT" "$url"   # warm the cache
    # and the JIT: a JVM reaches its steady state only after several seconds of load; the same for every target
    wrk -t2 -c64 -d"${WARM_SECONDS}s" -H "Accept: $ACCEPT" "$url" > /dev/null
    out=$(wrk -t2 -c64 -d"${WRK_SECONDS}s" --latency -H "Accept: $ACCEPT" "$url")
    wrk_rps[$target-$ref]=$(echo "$out" | awk '/^Requests\/sec/{print $2}')
    wrk_p99[$target-$ref]=$(echo "$out" | awk '$1=="99%"{print $2}')
  done
done

# ---- 4. twenty concurrent cold requests for one blob
declare -A crowd_wall crowd_ttfb crowd_upstream
for target in reference-proxy pullthrough; do
  [ $target = pullthrough ] && port=$PT_PORT || port=$REF_PORT
  blob=${CROWD[$target]}
  serving=$(serving_pids "$target")
  before=$(cpu $serving)
  start=$(date +%s.%N)
  crowd=()
  for i in $(seq 1 20); do
    curl -s -o /dev/null -w '%{time_starttransfer}\n' "http://127.0.0.1:$port/v2/bench/crowd/blobs/$blob" > "$WORK/ttfb.$target.$i" &
    crowd+=($!)
  done
  wait "${crowd[@]}"
  crowd_wall[$target]=$(python3 -c "print($(date +%s.%N) - $start)")
  cpu_crowd[$target]=$(per_gib "$before" "$(cpu_settled $serving)" $((20 * BLOB_MIB)))
  crowd_ttfb[$target]=$(cat "$WORK"/ttfb.$target.* | tr '\n' ' ')
  sleep 2   # let a proxy that keeps fetching after its clients are served show it
  crowd_upstream[$target]=$(( $(grep -c "GET /v2/bench/crowd/blobs/$blob " "$WORK/upstream/log" || true) * BLOB_MIB ))
done

# ---- 4b. one client, one cold blob: MiB/s through each path
# Warm-up first: the one-client path of a cold blob, unmeasured, as a long-running proxy has taken it
# many times. Its hot methods run once per 1 MiB chunk, so after the scenarios above the JIT still
# compiled them during the measured transfer: 0.1-0.5 s of C2 on a 2-core machine that the transfer keeps
# busy (issue 28, solo runs: 662-757 MiB/s in rounds where C2 took 0.25 s or more, 704-836 where it took
# 0.10 s or less). The reference proxy, in Go, gains nothing from it.
for target in reference-proxy pullthrough; do
  [ $target = pullthrough ] && port=$PT_PORT || port=$REF_PORT
  for digest in ${SOLO_WARMUP[$target]}; do
    curl -sf -o /dev/null "http://127.0.0.1:$port/v2/bench/solo-warmup/blobs/$digest"
  done
  cpu_settled $(serving_pids "$target") > /dev/null   # the reference proxy stores them after its client is served
done
declare -A solo_speed solo_budget
for target in upstream reference-proxy pullthrough; do
  case $target in
    upstream) port=$UP_PORT ;;
    reference-proxy) port=$REF_PORT ;;
    pullthrough) port=$PT_PORT ;;
  esac
  serving=$(serving_pids "$target")
  # On an idle disk: the writeback of what the path before wrote (the reference proxy stores a blob in
  # the background after its client is served) would otherwise land on this one's writes.
  sync
  # The upstream sends the blob from memory, as a remote registry would. Here it shares the proxies' disk,
  # so its reads would compete with their writes, which a real upstream's reads never do. This VM's host
  # also takes the page cache back within seconds (a 512 MiB file, synced: 384 MiB of it resident 20 s
  # later, by fincore), so without this the upstream's disk set every path's speed (issue 28: upstream
  # direct 393-727 MiB/s from run to run, 1,300-2,024 where the cache stayed).
  hex=${SOLO[$target]#sha256:}
  cat "$WORK/upstream/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data" > /dev/null
  before=$(cpu $serving); up_before=$(cpu "$UP_PID")
  # The client's own CPU too (python's rusage of its child): with the upstream's and the proxy's, all the
  # CPU the transfer took while it ran, against what the machine's cores had in that time.
  read -r speed wall curl_cpu < <(python3 -c 'import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout
r = resource.getrusage(resource.RUSAGE_CHILDREN); print(out.strip(), round(r.ru_utime + r.ru_stime, 3))' \
    curl -sf -o /dev/null -w '%{speed_download} %{time_total}' "http://127.0.0.1:$port/v2/bench/solo/blobs/${SOLO[$target]}")
  solo_speed[$target]=$speed
  during=$(cpu $serving); up_during=$(cpu "$UP_PID")
  [ $target = upstream ] && proxy_cpu=0 || proxy_cpu=$(python3 -c "print(round($during - $before, 2))")
  solo_budget[$target]="$(python3 -c "print(round($up_during - $up_before, 2))")/$curl_cpu/$proxy_cpu/$wall"
  cpu_solo[$target]=$(per_gib "$before" "$(cpu_settled $serving)" "$BLOB_MIB")
done
# Where this proxy's time went on that blob, from its own log line (reads waited on disk or hash, file, hash).
stages=$(grep -o "fetched blob ${SOLO[pullthrough]} .*" "$WORK/pullthrough/log" | sed 's/^fetched blob [^ ]* of [^ ]* from [^ ]*: //' || true)

# ---- 5. resident memory after the runs, and under slow streams
rss() { awk '/^VmRSS/{print int($2/1024)}' "/proc/$1/status"; }
declare -A rss_after rss_slow
rss_after[pullthrough]=$(rss "$PT_PID"); rss_after[reference-proxy]=$(rss "$REF_PID")
for target in reference-proxy pullthrough; do
  [ $target = pullthrough ] && port=$PT_PORT || port=$REF_PORT
  slow=()
  for i in $(seq 1 "$SLOW_STREAMS"); do
    curl -s -o /dev/null --limit-rate 200k "http://127.0.0.1:$port/v2/bench/big/blobs/$BLOB" &
    slow+=($!)
  done
  sleep 8
  [ $target = pullthrough ] && rss_slow[$target]=$(rss "$PT_PID") || rss_slow[$target]=$(rss "$REF_PID")
  kill "${slow[@]}" 2>/dev/null || true
  wait "${slow[@]}" 2>/dev/null || true
done

mkdir -p "$ROOT/bench/results"
python3 - "$(nproc)" "$BLOB_MIB" "$LAYER_MIB" \
  "${speed[upstream]}" "${speed[reference-proxy]}" "${speed[pullthrough]}" "${speed[nginx-sendfile]}" \
  "${cold[upstream]}" "${cold[reference-proxy]}" "${cold[pullthrough]}" \
  "${wrk_rps[upstream-tag]} ${wrk_rps[reference-proxy-tag]} ${wrk_rps[pullthrough-tag]} ${wrk_rps[nginx-proxy-cache-tag]}" \
  "${wrk_rps[upstream-digest]} ${wrk_rps[reference-proxy-digest]} ${wrk_rps[pullthrough-digest]} ${wrk_rps[nginx-proxy-cache-digest]}" \
  "${wrk_p99[upstream-tag]} ${wrk_p99[reference-proxy-tag]} ${wrk_p99[pullthrough-tag]} ${wrk_p99[nginx-proxy-cache-tag]}" \
  "${wrk_p99[upstream-digest]} ${wrk_p99[reference-proxy-digest]} ${wrk_p99[pullthrough-digest]} ${wrk_p99[nginx-proxy-cache-digest]}" \
  "${crowd_upstream[reference-proxy]} ${crowd_upstream[pullthrough]}" \
  "${crowd_wall[reference-proxy]} ${crowd_wall[pullthrough]}" \
  "${crowd_ttfb[reference-proxy]}" "${crowd_ttfb[pullthrough]}" \
  "${rss_after[reference-proxy]} ${rss_after[pullthrough]}" "${rss_slow[reference-proxy]} ${rss_slow[pullthrough]}" \
  "$SLOW_STREAMS" "$ROOT/bench/results/latest.json" \
  "${solo_speed[upstream]} ${solo_speed[reference-proxy]} ${solo_speed[pullthrough]}" \
  "${cpu_solo[upstream]} ${cpu_solo[reference-proxy]} ${cpu_solo[pullthrough]}" \
  "${cpu_crowd[reference-proxy]} ${cpu_crowd[pullthrough]}" \
  "${cpu_warm[upstream]} ${cpu_warm[reference-proxy]} ${cpu_warm[pullthrough]} ${cpu_warm[nginx-sendfile]}" \
  "$floor_sha $floor_dd $floor_openssl" "$(uptime | sed 's/.*load average: //')" "${stages:-no log line}" \
  "${solo_budget[upstream]} ${solo_budget[reference-proxy]} ${solo_budget[pullthrough]}" <<'PY'
import json, statistics, sys
a = sys.argv
cores, blob_mib, layer_mib = a[1:4]
names = ["upstream", "reference-proxy", "pullthrough", "nginx-sendfile"]
speeds = {n: statistics.median(float(x) for x in a[4 + i].split()) / 2**20 for i, n in enumerate(names)}
cold = {n: statistics.median(float(x) for x in a[8 + i].split()) for i, n in enumerate(names[:3])}
three = names[:3]
def ms(text):
    unit = text.lstrip("0123456789.")
    value = float(text[:len(text) - len(unit)])
    return value * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
manifest_peers = three + ["nginx-proxy-cache"]
rps_tag = dict(zip(manifest_peers, map(float, a[11].split())))
rps_digest = dict(zip(manifest_peers, map(float, a[12].split())))
p99_tag = dict(zip(manifest_peers, map(ms, a[13].split())))
p99_digest = dict(zip(manifest_peers, map(ms, a[14].split())))
peers = ["reference-proxy", "pullthrough"]
crowd_upstream = dict(zip(peers, map(int, a[15].split())))
crowd_wall = dict(zip(peers, map(float, a[16].split())))
ttfb = {peers[0]: sorted(float(x) for x in a[17].split()), peers[1]: sorted(float(x) for x in a[18].split())}
rss_after = dict(zip(peers, map(int, a[19].split())))
rss_slow = dict(zip(peers, map(int, a[20].split())))
slow, out = a[21], a[22]
solo = dict(zip(three, (float(x) / 2**20 for x in a[23].split())))
cpu = {"cold_one_client": dict(zip(three, map(float, a[24].split()))),
       "crowd_per_gib_sent": dict(zip(peers, map(float, a[25].split()))),
       "warm": dict(zip(names, map(float, a[26].split())))}
sha, dd, ossl = map(float, a[27].split())
cpu["floor"] = {"sha256sum": sha, "openssl_sha256": ossl, "dd": dd, "both": round(min(sha, ossl) + dd, 3)}
load = a[28]
stages = a[29]
# CPU seconds of the upstream, the client and the proxy while the one-client transfer ran, and its wall time
budget = {n: dict(zip(["upstream", "client", "proxy", "wall"], map(float, v.split("/")))) for n, v in zip(three, a[30].split())}

def row(label, unit, values, better_high=True):
    print(f"  {label:44s}", end="")
    for n in values:
        print(f" {n}={values[n]:.4g}{unit}", end="")
    base = values["pullthrough"]
    ratios = [f"{base / v if better_high else v / base:.2f}x vs {n}" for n, v in values.items() if n != "pullthrough" and v]
    print("   pullthrough: " + ", ".join(ratios))

print(f"machine: {cores} cores; blob {blob_mib} MiB; cold image 5 x {layer_mib} MiB layers; ratios > 1 favour pullthrough")
print("1. warm manifests (wrk, 64 connections)")
row("by tag, requests/s", "", rps_tag)
row("by digest, requests/s", "", rps_digest)
row("by tag, p99", "ms", p99_tag, better_high=False)
row("by digest, p99", "ms", p99_digest, better_high=False)
print("2. warm blob throughput (median of runs)")
row("MiB/s", "", speeds)
print("3. cold pull, skopeo copy (median)")
row("seconds", "s", cold, better_high=False)
print("4. cold blob, one client (MiB/s)")
row("MiB/s", "", solo)
print(f"   CPU while it ran (s): upstream + client + proxy, against the {cores} cores' seconds in its wall time")
for n in three:
    b = budget[n]
    used = b["upstream"] + b["client"] + b["proxy"]
    print(f"    {n:18s} {b['upstream']:.2f} + {b['client']:.2f} + {b['proxy']:.2f} = {used:.2f} of {int(cores) * b['wall']:.2f}"
          f" ({used / (int(cores) * b['wall']):.0%} busy)")
print("4b. 20 concurrent cold requests for one blob")
row("MiB the upstream served", "", {n: float(crowd_upstream[n]) for n in peers}, better_high=False)
row("wall time", "s", crowd_wall, better_high=False)
row("time to first byte, median", "s", {n: statistics.median(ttfb[n]) for n in peers}, better_high=False)
row("time to first byte, max", "s", {n: max(ttfb[n]) for n in peers}, better_high=False)
print("5. resident memory")
row("after the runs, MiB", "", {n: float(rss_after[n]) for n in peers}, better_high=False)
row(f"under {slow} slow blob streams, MiB", "", {n: float(rss_slow[n]) for n in peers}, better_high=False)
print(f"6. CPU seconds per GiB of the serving process (load average at the end: {load})")
row("cold blob, one client", "", cpu["cold_one_client"], better_high=False)
row("crowd of 20 cold clients, per GiB sent", "", cpu["crowd_per_gib_sent"], better_high=False)
row("warm blob", "", cpu["warm"], better_high=False)
print(f"  {'floor: SHA-256 + dd of the same bytes':44s} sha256sum={sha:.3g} openssl={ossl:.3g} dd={dd:.3g}"
      f" both={min(sha, ossl) + dd:.3g}")
print(f"  {'pullthrough, where the one cold blob went':44s} {stages}")
result = {"cores": int(cores), "blob_mib": int(blob_mib), "warm_manifest_rps": {"tag": rps_tag, "digest": rps_digest},
          "warm_manifest_p99_ms": {"tag": p99_tag, "digest": p99_digest}, "warm_blob_mib_per_s": speeds,
          "cold_pull_seconds": cold, "cold_blob_one_client_mib_per_s": solo, "crowd_upstream_mib": crowd_upstream, "crowd_wall_seconds": crowd_wall,
          "crowd_ttfb_seconds": ttfb, "rss_after_mib": rss_after, "rss_slow_streams_mib": rss_slow, "slow_streams": int(slow),
          "cpu_seconds_per_gib": cpu, "cold_blob_one_client_cpu_while_running": budget, "load_average": load}
open(out, "w").write(json.dumps(result, indent=1))
print(json.dumps(result))
PY
