#!/usr/bin/env bash
# `npm run conformance`: the Autobahn|Testsuite against wssd with --deflate,
# cases 1–13 over ws:// and then wss:// (../shared/conformance/ has the suite;
# AUTOBAHN=path/to/run.sh to use another copy). Not part of `npm test`: it
# takes a while. Each run prints its summary line; the exit status is the
# first failure's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${AUTOBAHN:-$ROOT/../shared/conformance/autobahn/run.sh}
[[ -x "$RUN" ]] || { echo "conformance: no Autobahn runner at $RUN (set AUTOBAHN=)" >&2; exit 2; }
OUT=${OUT:-/tmp/wssd-conformance}
status=0
for scheme in ws wss; do
  port=$((9001 + RANDOM % 500))
  if [[ $scheme == ws ]]; then args=(--plain); else args=(); fi
  node "$ROOT/dist/server.js" "${args[@]}" --host 127.0.0.1 --port "$port" --deflate --ping-interval 0 >"$OUT-$scheme-server.log" 2>&1 &
  server=$!
  sleep 1
  EXCLUDE= "$RUN" "$scheme://127.0.0.1:$port/" '*' "$OUT-$scheme" || { [[ $status -ne 0 ]] || status=$?; }
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
done
exit "$status"
