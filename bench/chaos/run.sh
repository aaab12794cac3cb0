#!/usr/bin/env bash
# A chaos run anyone can repeat (issue 30): three replicas (the jar, `java @jvm.options -jar`, cluster on:
# S3Proxy as the bucket, Redis) behind nginx (`proxy_next_upstream error timeout`: a request that finds
# its replica dead goes to the next one), the reference registry as the upstream behind a fault front
# (bench/chaos/fault_front.py: 5xx and 429 in bursts, counts GETs per blob and per tag). CLIENTS (30)
# clients pull a changing mix of images for DURATION seconds (verifying every manifest and blob digest)
# while a mover re-pushes tags upstream, and a schedule kill -9s and restarts each replica in turn,
# restarts Redis (empty) twice, makes the upstream answer 503, 429 and 500 in bursts, and stops S3Proxy
# for a while. It prints pulls tried, succeeded, failed visibly (grouped by why), wrong bytes, the
# upstream's GETs per blob and per tag against the minimum, each replica's RSS at start and end, and a
# bucket fsck (plus each replica's local fsck) at the end. Exit 1 when any body was wrong or an fsck
# was not clean.
# Usage: bench/chaos/run.sh   (DURATION=480 CLIENTS=30 IMAGES=24 BIG_MIB=48 MOVE_EVERY=15; DURATION=120
# for a short run; the whole run takes DURATION plus about two minutes). Needs docker-registry, nginx,
# redis-server, curl, python3, java 17, and the jar and test-tools/s3proxy built (mvn -B -DskipTests
# package does it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/chaos
DURATION=${DURATION:-480}
export CLIENTS=${CLIENTS:-30} IMAGES=${IMAGES:-24} BIG_MIB=${BIG_MIB:-48} MOVE_EVERY=${MOVE_EVERY:-15}
JAR=${JAR:-$ROOT/proxy-server/target/pullthrough.jar}
CLASSPATH_FILE=$ROOT/test-tools/s3proxy/target/s3proxy.classpath
[ -f "$JAR" ] && [ -f "$CLASSPATH_FILE" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)
WORK=$(mktemp -d /tmp/pullthrough-chaos.XXXXXX)
chmod 755 "$WORK"   # nginx's workers (not root) use its temp directory
pids=()
declare -A replica_pid replica_port rss_start restarts
cleanup() {
  for p in "${pids[@]}" "${replica_pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 600); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
started=$(date +%s)
say() { printf '[%4ss] %s\n' $(($(date +%s) - started)) "$*"; }
step() { say "$*"; echo "$(date +%s.%N)|$*" >> "$WORK/events"; }   # a schedule step, for the report too
: > "$WORK/events"
rss_mib() { awk '/^VmRSS/{printf "%d", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

# ---- the upstream: the reference registry behind the fault front
UP=$(free_port); FRONT=$(free_port)
mkdir -p "$WORK/upstream"
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$WORK/upstream/data" "$UP" > "$WORK/upstream/config.yml"
docker-registry serve "$WORK/upstream/config.yml" > "$WORK/upstream/log" 2>&1 & pids+=($!)
python3 "$HERE/fault_front.py" "$FRONT" "http://127.0.0.1:$UP" > "$WORK/front.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$UP/v2/"
wait_http "http://127.0.0.1:$FRONT/v2/"
python3 "$HERE/chaos.py" setup "http://127.0.0.1:$UP" "$WORK/images.json"
fault() { curl -sf -X POST -o /dev/null "http://127.0.0.1:$FRONT/__chaos/fault?status=$1&seconds=$2"; }

# ---- S3Proxy (stopped and started again on the same port and files) and Redis (restarted empty)
S3=$(free_port); AK=bench; SK=bench-secret; s3pid=
mkdir -p "$WORK/s3/data"
printf 's3proxy.endpoint=http://127.0.0.1:%s\ns3proxy.authorization=aws-v2-or-v4\ns3proxy.identity=%s\ns3proxy.credential=%s\njclouds.provider=filesystem\njclouds.filesystem.basedir=%s\n' \
  "$S3" "$AK" "$SK" "$WORK/s3/data" > "$WORK/s3/s3proxy.properties"
# S3Proxy's jar has no logback.xml: without one, logback logs every Jetty step at DEBUG (a CPU cost here)
printf '<configuration><appender name="err" class="ch.qos.logback.core.ConsoleAppender"><encoder><pattern>%%d %%level %%logger %%msg%%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="err"/></root></configuration>\n' \
  > "$WORK/s3/logback.xml"
start_s3() {
  java -Dlogback.configurationFile="$WORK/s3/logback.xml" -cp "$(cat "$CLASSPATH_FILE")" org.gaul.s3proxy.Main --properties "$WORK/s3/s3proxy.properties" \
    >> "$WORK/s3/log" 2>&1 &
  s3pid=$!; pids+=($s3pid)
  wait_http "http://127.0.0.1:$S3/"
}
start_s3
curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  -X PUT "http://127.0.0.1:$S3/shared" -o /dev/null
REDIS=$(free_port); redis_pid=
start_redis() {
  redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >> "$WORK/redis.log" 2>&1 &
  redis_pid=$!; pids+=($redis_pid)
  until redis-cli -p "$REDIS" ping > /dev/null 2>&1; do sleep 0.1; done
}
start_redis
printf 'a-shared-secret-for-the-chaos-run\n' > "$WORK/secret"
S3_ENV=(PULLTHROUGH_STORAGE_S3_BUCKET=shared PULLTHROUGH_STORAGE_S3_ENDPOINT=http://127.0.0.1:$S3
        PULLTHROUGH_STORAGE_S3_PATHSTYLE=true PULLTHROUGH_STORAGE_S3_ACCESSKEY=$AK PULLTHROUGH_STORAGE_S3_SECRETKEY=$SK)

# ---- three replicas, each with its own disk; tags live 5 s so that clients follow the moving tags
start_replica() { # name
  local port=${replica_port[$1]}
  env MALLOC_ARENA_MAX=2 PULLTHROUGH_SERVER_HOST=127.0.0.1 PULLTHROUGH_SERVER_PORT=$port PULLTHROUGH_ADMIN_PORT=$port \
    PULLTHROUGH_STORAGE_PATH=$WORK/$1 PULLTHROUGH_UPSTREAMS_0_URL=http://127.0.0.1:$FRONT PULLTHROUGH_UPSTREAMS_0_TAGTTL=5s \
    "${S3_ENV[@]}" PULLTHROUGH_CLUSTER_REDIS=redis://127.0.0.1:$REDIS PULLTHROUGH_CLUSTER_ADVERTISE=http://127.0.0.1:$port \
    PULLTHROUGH_CLUSTER_SECRETFILE=$WORK/secret java @"$ROOT/jvm.options" -jar "$JAR" serve >> "$WORK/$1.log" 2>&1 &
  replica_pid[$1]=$!
  wait_http "http://127.0.0.1:$port/v2/"
}
for name in a b c; do replica_port[$name]=$(free_port); restarts[$name]=0; start_replica $name; done

# ---- nginx in front: a request whose replica refuses the connection or times out goes to the next one
# (before any byte reached the client); proxy_buffering off streams blobs as the replica sends them.
LB=$(free_port)
mkdir -p "$WORK/nginx/tmp"
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $WORK/nginx/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  log_format chaos '\$request \$status \$body_bytes_sent upstream=\$upstream_addr/\$upstream_status';
  access_log $WORK/nginx/access.log chaos;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  upstream replicas {
    server 127.0.0.1:${replica_port[a]} max_fails=1 fail_timeout=3s;
    server 127.0.0.1:${replica_port[b]} max_fails=1 fail_timeout=3s;
    server 127.0.0.1:${replica_port[c]} max_fails=1 fail_timeout=3s;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$LB;
    location /v2/ {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_buffering off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
    }
  }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" & pids+=($!)
wait_http "http://127.0.0.1:$LB/v2/"
for name in a b c; do rss_start[$name]=$(rss_mib "${replica_pid[$name]}"); done

# ---- the clients and the mover, for DURATION seconds
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $CLIENTS clients for $DURATION s through nginx on 3 replicas"
python3 "$HERE/chaos.py" pull "http://127.0.0.1:$LB" "http://127.0.0.1:$UP" "$WORK/images.json" "$DURATION" "$WORK/stop" \
  "$WORK/result.json" &
clients=$!

# ---- the schedule: each step at its share of DURATION (later if the one before ran long); the clients
# pull until the schedule is over and a calm tail (a tenth of DURATION) has passed
burst=$((DURATION / 40 > 5 ? DURATION / 40 : 5))
outage=$((DURATION / 24 > 10 ? DURATION / 24 : 10))
at() { # percent of DURATION
  local target=$((started_clients + DURATION * $1 / 100))
  while [ "$(date +%s)" -lt "$target" ]; do sleep 0.5; done
}
kill_replica() { # name: kill -9, then started again 5 s later
  kill -9 "${replica_pid[$1]}"; wait "${replica_pid[$1]}" 2>/dev/null || true
  step "replica $1 killed (-9)"
  sleep 5
  restarts[$1]=$((restarts[$1] + 1))
  start_replica "$1" && say "replica $1 started again (RSS $(rss_mib "${replica_pid[$1]}") MiB)"
}
restart_redis() {
  kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
  step "Redis killed (-9)"
  sleep 5
  start_redis
  say "Redis started again, empty"
}
upstream_burst() { # status
  fault "$1" "$burst"
  step "upstream answers $1 to everything for $burst s"
  sleep "$burst"
}
stop_s3() {
  kill "$s3pid"; wait "$s3pid" 2>/dev/null || true
  step "S3Proxy stopped for $outage s"
  sleep "$outage"
  start_s3
  say "S3Proxy started again"
}
started_clients=$(date +%s)
at 6;  kill_replica a
at 16; upstream_burst 503
at 26; restart_redis
at 32; upstream_burst 429
at 39; kill_replica b
at 50; stop_s3
at 62; upstream_burst 500
at 72; restart_redis
at 88; kill_replica c
calm_until=$(($(date +%s) + DURATION / 10))
at 100
while [ "$(date +%s)" -lt "$calm_until" ]; do sleep 0.5; done
touch "$WORK/stop"
wait "$clients" || say "the clients' process failed"
say "clients done; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the printout
curl -sf "http://127.0.0.1:$FRONT/__chaos/counts" > "$WORK/counts.json"
status=0
python3 "$HERE/chaos.py" report "$WORK/result.json" "$WORK/counts.json" "$WORK/events" || status=1
echo "replicas (RSS MiB at start -> at end; restarts after kill -9):"
for name in a b c; do
  echo "  $name: ${rss_start[$name]} -> $(rss_mib "${replica_pid[$name]}") (${restarts[$name]} restart)"
done

# ---- stop the replicas (SIGTERM: they drain and exit), then fsck each disk and the bucket
for name in a b c; do kill "${replica_pid[$name]}" 2>/dev/null || true; done
for name in a b c; do wait "${replica_pid[$name]}" 2>/dev/null || true; done
say "replicas stopped"
fsck() { # label env... : runs fsck, prints its summary lines, fails the run if it is not clean
  local label=$1; shift
  if env "$@" java @"$ROOT/jvm.options" -jar "$JAR" fsck > "$WORK/fsck-$label.out" 2>&1; then
    grep -E '^(fsck|bad)' "$WORK/fsck-$label.out" | sed "s|$WORK/||; s|^|  |"
  else
    status=1
    echo "  fsck $label NOT CLEAN:"; sed 's/^/    /' "$WORK/fsck-$label.out"
  fi
}
echo "fsck:"
for name in a b c; do fsck "$name" PULLTHROUGH_STORAGE_PATH="$WORK/$name"; done
fsck bucket PULLTHROUGH_STORAGE_PATH="$WORK/fsck-bucket" "${S3_ENV[@]}"
say "done; load average $(cut -d' ' -f1-3 /proc/loadavg); exit $status"
exit $status
