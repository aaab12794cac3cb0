#!/usr/bin/env bash
# Blob benchmark, side by side in one run on loopback:
#   - cached-blob throughput of a 512 MiB blob (median of 5 curl downloads) through this proxy, the
#     reference registry in proxy mode (docker-registry with proxy.remoteurl), nginx with sendfile
#     reading the same bytes from disk (the practical limit of this machine), and the upstream itself;
#   - cold pull time of a 5-layer image with skopeo (a fresh image per run, so every cache is cold).
# Needs: docker-registry, skopeo, nginx, curl, python3, java 17; builds the jar if missing.
# Usage: bench/blob-bench.sh   (BLOB_MIB=512 RUNS=5 COLD_RUNS=3 LAYER_MIB=16 to change the sizes)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BLOB_MIB=${BLOB_MIB:-512}
RUNS=${RUNS:-5}
COLD_RUNS=${COLD_RUNS:-3}
LAYER_MIB=${LAYER_MIB:-16}
WORK=$(mktemp -d /tmp/pullthrough-bench.XXXXXX)
chmod 755 "$WORK"   # nginx workers (not root) read the blob from here
JAR=$ROOT/proxy-server/target/pullthrough.jar
[ -f "$JAR" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; exit 1
}
start_registry() { # name port [extra config lines...]
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  { printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$WORK/$name/data" "$port"
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
UP_PORT=$(free_port); REF_PORT=$(free_port); PT_PORT=$(free_port); NGINX_PORT=$(free_port)
UPSTREAM=http://127.0.0.1:$UP_PORT
start_registry upstream "$UP_PORT"
start_registry reference-proxy "$REF_PORT" "proxy:" "  remoteurl: $UPSTREAM"
mkdir -p "$WORK/pullthrough"
PULLTHROUGH_SERVER_HOST=127.0.0.1 PULLTHROUGH_SERVER_PORT=$PT_PORT PULLTHROUGH_ADMIN_PORT=$PT_PORT \
  PULLTHROUGH_STORAGE_PATH="$WORK/pullthrough/data" PULLTHROUGH_UPSTREAMS_0_URL=$UPSTREAM \
  java -jar "$JAR" serve > "$WORK/pullthrough/log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$PT_PORT/v2/"

echo "preparing a ${BLOB_MIB} MiB blob and $COLD_RUNS images of 5 x ${LAYER_MIB} MiB layers..." >&2
mkdir -p "$WORK/www"
head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/www/blob"
chmod 755 "$WORK/www"; chmod 644 "$WORK/www/blob"
BLOB=$(push_blob bench/big "$WORK/www/blob")
for run in $(seq 1 "$COLD_RUNS"); do push_image "bench/cold$run"; done

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
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
}
CONF
nginx -c "$WORK/nginx/nginx.conf" &
pids+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/blob"

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
declare -A speed
for target in upstream reference-proxy pullthrough nginx-sendfile; do
  case $target in
    upstream) url=http://127.0.0.1:$UP_PORT/v2/bench/big/blobs/$BLOB ;;
    reference-proxy) url=http://127.0.0.1:$REF_PORT/v2/bench/big/blobs/$BLOB ;;
    pullthrough) url=http://127.0.0.1:$PT_PORT/v2/bench/big/blobs/$BLOB ;;
    nginx-sendfile) url=http://127.0.0.1:$NGINX_PORT/blob ;;
  esac
  curl -sf -o /dev/null "$url"
  speeds=""
  for _ in $(seq 1 "$RUNS"); do
    speeds+="$(curl -sf -o /dev/null -w '%{speed_download}' "$url") "
  done
  speed[$target]=$speeds
done

python3 - "$(nproc)" "$BLOB_MIB" "$LAYER_MIB" \
  "${speed[upstream]}" "${speed[reference-proxy]}" "${speed[pullthrough]}" "${speed[nginx-sendfile]}" \
  "${cold[upstream]}" "${cold[reference-proxy]}" "${cold[pullthrough]}" <<'PY'
import json, statistics, sys
cores, blob_mib, layer_mib = sys.argv[1:4]
names = ["upstream", "reference-proxy", "pullthrough", "nginx-sendfile"]
speeds = {n: statistics.median(float(x) for x in sys.argv[4 + i].split()) / 2**20 for i, n in enumerate(names)}
cold = {n: statistics.median(float(x) for x in sys.argv[8 + i].split()) for i, n in enumerate(names[:3])}
print(f"machine: {cores} cores; blob {blob_mib} MiB; cold image 5 x {layer_mib} MiB layers")
print(f"{'warm blob throughput (median)':34s} {'MiB/s':>10s} {'pullthrough / this':>20s}")
for n in names:
    print(f"  {n:32s} {speeds[n]:10.0f} {speeds['pullthrough'] / speeds[n]:19.2f}x")
print(f"{'cold pull, skopeo copy (median)':34s} {'seconds':>10s} {'pullthrough / this':>20s}")
for n in names[:3]:
    print(f"  {n:32s} {cold[n]:10.2f} {cold['pullthrough'] / cold[n]:19.2f}x")
print(json.dumps({"cores": int(cores), "blob_mib": int(blob_mib), "warm_blob_mib_per_s": speeds, "cold_pull_seconds": cold}))
PY
