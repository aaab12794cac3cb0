#!/usr/bin/env bash
# Issue 26, hole 6 at full size: a hostile upstream redirects each of N blob pulls (default 200,000) to a
# distinct origin (127.a.b.c:PORT) and serves the blob there. The proxy runs as the README starts it
# (java @jvm.options -jar: 128 MiB heap, exit on OutOfMemoryError). Every STEP pulls it prints the live
# heap after a full GC, resident memory and the number of origin pools; it fails if the proxy exits, a
# pull fails, or the proxy is not the same process at the end.
# REDIRECT=0 is the control: the same pulls served by the upstream itself, no redirect at all; the live
# heap then grows by what caching that many distinct blobs costs (the repository-link cache), which
# the redirected run must not exceed.
# Needs: java 17 with jcmd, python3; builds the jar if missing (REBUILD=1 to rebuild).
# Usage: bench/hostile/redirect-origins.sh   (N=200000 STEP=20000 THREADS=4 REDIRECT=1)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-200000}
STEP=${STEP:-20000}
THREADS=${THREADS:-4}
JAR=$ROOT/proxy-server/target/pullthrough.jar
if [ ! -f "$JAR" ] || [ "${REBUILD:-0}" = 1 ]; then (cd "$ROOT" && mvn -B -q -DskipTests package); fi
WORK=$(mktemp -d /tmp/pullthrough-origins.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PROXY_PORT=$(free_port)
UPSTREAM_PORT=$(free_port)
cat > "$WORK/config.yaml" <<YAML
server:
  host: 127.0.0.1
  port: $PROXY_PORT
admin:
  port: $PROXY_PORT
storage:
  path: $WORK/data
upstreams:
  - name: scatter.test
    url: http://127.0.0.1:$UPSTREAM_PORT
    default: true
YAML
java @"$ROOT/jvm.options" -jar "$JAR" serve --config "$WORK/config.yaml" > "$WORK/proxy.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$PROXY_PORT/v2/" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/proxy.log"; exit 1; }
  sleep 0.2
done
echo "proxy pid $pid on port $PROXY_PORT; upstream on $UPSTREAM_PORT; $N pulls, $([ "${REDIRECT:-1}" = 0 ] \
  && echo "served by the upstream itself (control)" || echo "each redirected to its own origin")"
status=0
python3 "$ROOT/bench/hostile/redirect_origins.py" "$PROXY_PORT" "$pid" "$UPSTREAM_PORT" "$N" "$STEP" "$THREADS" || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: the proxy exited"; tail -20 "$WORK/proxy.log"; exit 1
fi
echo "proxy still pid $pid; OutOfMemoryError in its log: $(grep -c OutOfMemoryError "$WORK/proxy.log" || true)"
exit $status
