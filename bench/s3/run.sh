#!/usr/bin/env bash
# Replicas on one bucket (issue 17): a warm BLOB_MIB blob (default 512) served by a replica whose local
# disk does not hold it (it reads the bucket, S3Proxy with its filesystem backend, while it copies the
# blob to its disk), side by side with the same replica once the blob is on its disk (zero-copy), and
# with S3Proxy read directly (curl, SigV4). RUNS fresh replicas for the bucket figure; MiB/s, median.
# Usage: bench/s3/run.sh   (BLOB_MIB=512 RUNS=3); needs docker-registry, curl (7.75+ for --aws-sigv4),
# python3, and test-tools/s3proxy built (mvn -B -DskipTests package does it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BLOB_MIB=${BLOB_MIB:-512}
RUNS=${RUNS:-3}
JAR=$ROOT/proxy-server/target/pullthrough.jar
CLASSPATH_FILE=$ROOT/test-tools/s3proxy/target/s3proxy.classpath
[ -f "$JAR" ] && [ -f "$CLASSPATH_FILE" ] || (cd "$ROOT" && mvn -B -q -DskipTests package)
WORK=$(mktemp -d /tmp/pullthrough-s3bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
median() { python3 -c "import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]) / 1048576, 1))" "$@"; }

# ---- the upstream registry with one big blob
UP=$(free_port)
mkdir -p "$WORK/upstream"
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$WORK/upstream/data" "$UP" > "$WORK/upstream/config.yml"
docker-registry serve "$WORK/upstream/config.yml" > "$WORK/upstream/log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$UP/v2/"
head -c $((BLOB_MIB << 20)) /dev/urandom > "$WORK/blob"
BLOB=sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)
location=$(curl -sf -X POST -D - -o /dev/null "http://127.0.0.1:$UP/v2/bench/big/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
[[ $location == http* ]] || location="http://127.0.0.1:$UP$location"
sep='?'; [[ $location == *\?* ]] && sep='&'
curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$WORK/blob" "$location${sep}digest=$BLOB" -o /dev/null

# ---- S3Proxy and the bucket
S3=$(free_port); AK=bench; SK=bench-secret
mkdir -p "$WORK/s3/data"
printf 's3proxy.endpoint=http://127.0.0.1:%s\ns3proxy.authorization=aws-v2-or-v4\ns3proxy.identity=%s\ns3proxy.credential=%s\njclouds.provider=filesystem\njclouds.filesystem.basedir=%s\n' \
  "$S3" "$AK" "$SK" "$WORK/s3/data" > "$WORK/s3/s3proxy.properties"
java -DLOG_LEVEL=warn -cp "$(cat "$CLASSPATH_FILE")" org.gaul.s3proxy.Main --properties "$WORK/s3/s3proxy.properties" > "$WORK/s3/log" 2>&1 & pids+=($!)
for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$S3/" && break; sleep 0.1; done
s3curl() { curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
s3curl -X PUT "http://127.0.0.1:$S3/shared" -o /dev/null
KEY="blobs/sha256/${BLOB#sha256:}"

replica() { # data-dir port -> starts a replica on the bucket; sets rpid
  PULLTHROUGH_SERVER_HOST=127.0.0.1 PULLTHROUGH_SERVER_PORT=$2 PULLTHROUGH_ADMIN_PORT=$2 PULLTHROUGH_STORAGE_PATH=$1 \
  PULLTHROUGH_UPSTREAMS_0_URL=http://127.0.0.1:$UP PULLTHROUGH_STORAGE_S3_BUCKET=shared \
  PULLTHROUGH_STORAGE_S3_ENDPOINT=http://127.0.0.1:$S3 PULLTHROUGH_STORAGE_S3_PATHSTYLE=true \
  PULLTHROUGH_STORAGE_S3_ACCESSKEY=$AK PULLTHROUGH_STORAGE_S3_SECRETKEY=$SK \
    java @"$ROOT/jvm.options" -jar "$JAR" serve > "$1.log" 2>&1 &
  rpid=$!; pids+=($rpid)
  wait_http "http://127.0.0.1:$2/v2/"
}

# ---- replica A fetches the blob from the upstream; it reaches the bucket once A committed it
PORT=$(free_port); replica "$WORK/a" "$PORT"
curl -sf -o /dev/null "http://127.0.0.1:$PORT/v2/bench/big/blobs/$BLOB"
until s3curl -I "http://127.0.0.1:$S3/shared/$KEY" -o /dev/null; do sleep 0.5; done
kill "$rpid"; wait "$rpid" 2>/dev/null || true

from_bucket=(); local_disk=(); direct=()
for run in $(seq 1 "$RUNS"); do
  PORT=$(free_port); replica "$WORK/b$run" "$PORT"
  url="http://127.0.0.1:$PORT/v2/bench/big/blobs/$BLOB"
  from_bucket+=("$(curl -sf -o "$WORK/got" -w '%{speed_download}' "$url")")
  [ "sha256:$(sha256sum "$WORK/got" | cut -d' ' -f1)" = "$BLOB" ] || { echo "wrong bytes from the bucket" >&2; exit 1; }
  local_disk+=("$(curl -sf -o /dev/null -w '%{speed_download}' "$url")")
  direct+=("$(s3curl -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$S3/shared/$KEY")")
  kill "$rpid"; wait "$rpid" 2>/dev/null || true
done

cat <<OUT
machine: $(nproc) cores; a warm ${BLOB_MIB} MiB blob, median of $RUNS (MiB/s):
  replica without it on disk (reads the bucket, copies to disk): $(median "${from_bucket[@]}")
  the same replica once it is on its disk (zero-copy):          $(median "${local_disk[@]}")
  S3Proxy read directly (curl, SigV4):                          $(median "${direct[@]}")
OUT
