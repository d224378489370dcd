#!/usr/bin/env bash
# run.sh — `make bench`: kefu against nginx `return 200` and the brief's FastAPI service.
#
# Every server gets one worker pinned to one core (BENCH_SERVER_CPU, default 0) and wrk runs
# pinned to the other (BENCH_CLIENT_CPU, default 1) with the same settings for every target, one
# target at a time, all in one run, so the ratios are stable on a small noisy machine.
#   (a) GET /health          nginx · kefu · FastAPI peer
#   (b) POST intent          nginx fixed JSON · kefu /v1/intent · peer /intent, real query texts
#   (c) classifier latency   `kefu eval --json` (latency_us_p50 / latency_us_p99 per query)
# Training data: ../shared/data/banking77/train.csv when present (BENCH_DATA overrides), else
# the demo bot's phrases.  kefu and the peer are trained on the same rows.
# The table goes to stdout and bench/results/latest.md.
#
# Environment: BENCH_QUICK=1 (2 s runs), BENCH_DURATION (s, default 10), BENCH_CONNECTIONS
# (default 64), BENCH_DATA (CSV), KEFU_BIN (default build/kefu), BENCH_KEEP=1 (keep the temp
# dir), WRK_STATUS_HOOK=1 (count non-2xx in Lua too; slows wrk, see bench/wrk/bench.lua).
# Exit status: 0 when every target ran cleanly, 1 when one could not run or had errors.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
KEFU=${KEFU_BIN:-$ROOT/build/kefu}
DUR=${BENCH_DURATION:-10}
WARM=1
RETRIES=${BENCH_RETRIES:-1}
BUSY_MIN=80
[ "${BENCH_QUICK:-0}" = 1 ] && DUR=2
CONNS=${BENCH_CONNECTIONS:-64}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
LUA=$ROOT/bench/wrk/bench.lua
RESULTS=$ROOT/bench/results
B77=$(readlink -m "${BENCH_DATA:-$ROOT/../shared/data/banking77/train.csv}")

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# ---------------------------------------------------------------- tools, temp dir, clean-up
for t in nginx wrk taskset curl; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' is missing: run scripts/deps.sh bench"
done
"$PY" -c 'import fastapi, uvicorn, sklearn, numpy' 2>/dev/null ||
  die "python3-fastapi/-uvicorn/-sklearn/-numpy are missing: run scripts/deps.sh bench"
if [ "$(nproc)" -lt 2 ]; then
  say "bench: only $(nproc) core: server and wrk share it, ratios will be pessimistic"
  SCPU=0 CCPU=0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kefu-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then say "bench: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Three free loopback ports, chosen by the kernel.
read -r P_NGINX P_KEFU P_PEER < <("$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)

# Waits until URL answers 200 or PID exits; $3 = seconds.
wait_http() {
  local url=$1 pid=$2 secs=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    curl -sf -o /dev/null --max-time 1 "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# utime+stime (clock ticks) of a process and its children: nginx's master + worker.
cpu_ticks() {
  local total=0 p t
  for p in "$1" $(pgrep -P "$1" || true); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)

KEFU_OK=1 KEFU_WHY=
if [ ! -x "$KEFU" ]; then
  KEFU_OK=0 KEFU_WHY="$KEFU is missing (run make first)"
elif ! "$KEFU" --version >/dev/null 2>&1; then
  KEFU_OK=0 KEFU_WHY="$KEFU does not run ($KEFU --version failed)"
fi

# ---------------------------------------------------------------- training data and models
MODEL= PEER_DATA= DATA_DESC=
TRAIN_S=
if [ -f "$B77" ]; then
  PEER_DATA=$B77
  DATA_DESC="$B77"
  if [ $KEFU_OK = 1 ]; then
    t0=$(date +%s.%N)
    if timeout 120 "$KEFU" train --data "$B77" --out "$TMP/b77.model" --quiet >"$TMP/train.log" 2>&1; then
      MODEL=$TMP/b77.model
      TRAIN_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
    else
      KEFU_OK=0 KEFU_WHY="kefu train --data $B77 failed: $(tail -n 3 "$TMP/train.log" | tr '\n' ' ')"
    fi
  fi
else
  DATA_DESC="demo bot phrases (bots/demo; Banking77 not found at $B77)"
  if [ $KEFU_OK = 1 ]; then
    if timeout 120 "$KEFU" train --bot bots/demo --out "$TMP/demo.model" --export-csv "$TMP/demo.csv" \
      --quiet >"$TMP/train.log" 2>&1 && [ -s "$TMP/demo.csv" ]; then
      MODEL=$TMP/demo.model PEER_DATA=$TMP/demo.csv
    else
      KEFU_OK=0 KEFU_WHY="kefu train --bot bots/demo --export-csv failed: $(tail -n 3 "$TMP/train.log" | tr '\n' ' ')"
    fi
  fi
fi

# Request bodies: 200 real query texts (1-200 code points, fixed sample), each with its own
# random 32-hex session_id, one JSON document per line for bench/wrk/bench.lua.
BODIES=$TMP/bodies.jsonl
if [ -n "$PEER_DATA" ]; then
  ROWS_DESC=$("$PY" - "$PEER_DATA" "$BODIES" <<'EOF'
import csv, json, random, secrets, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = [r for r in csv.reader(f)][1:]
rows = [r for r in rows if len(r) >= 2 and r[0].strip() and r[1].strip()]
print(f"{len(rows)} rows, {len(set(r[1].strip() for r in rows))} intents")
texts = [r[0] for r in rows if len(r[0].strip()) <= 200]
random.Random(77).shuffle(texts)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for t in texts[:200]:
        out.write(json.dumps({"query": t, "session_id": secrets.token_hex(16), "context": {}},
                             ensure_ascii=False) + "\n")
EOF
)
  DATA_DESC="$DATA_DESC ($ROWS_DESC)"
fi

say "bench: data: $DATA_DESC"
[ $KEFU_OK = 1 ] || say "bench: *** kefu will not be measured: $KEFU_WHY ***"
[ -n "$PEER_DATA" ] || say "bench: *** no training CSV: the FastAPI peer and the POST runs are skipped ***"

# ---------------------------------------------------------------- servers (pinned to SCPU)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  default_type application/json;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$P_NGINX;
    location = /health { return 200 '{"status":"ok"}'; }
    location = /v1/intent {
      return 200 '{"intent":"card_arrival","confidence":0.9,"alternatives":[],"out_of_scope":false}';
    }
  }
}
EOF
NGINX_CMD="taskset -c $SCPU nginx -p $TMP/nginx -e $TMP/nginx/error.log -c $TMP/nginx/nginx.conf"
$NGINX_CMD >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_http "http://127.0.0.1:$P_NGINX/health" "$NGINX_PID" 10 ||
  die "nginx did not start: $(tail -n 5 "$TMP/nginx/error.log" "$TMP/nginx/stdout.log" 2>/dev/null)"

KEFU_CMD= KEFU_PID=
if [ $KEFU_OK = 1 ]; then
  KEFU_CMD="taskset -c $SCPU $KEFU serve --host 127.0.0.1 --port $P_KEFU --threads 1 --model $MODEL --log-level warn"
  $KEFU_CMD >"$TMP/kefu.log" 2>&1 &
  KEFU_PID=$!
  PIDS+=("$KEFU_PID")
  if ! wait_http "http://127.0.0.1:$P_KEFU/health" "$KEFU_PID" 15; then
    KEFU_OK=0 KEFU_WHY="kefu serve did not answer GET /health: $(tail -n 5 "$TMP/kefu.log" | tr '\n' ' ')"
    say "bench: *** $KEFU_WHY ***"
  fi
fi

PEER_CMD= PEER_PID= PEER_OK=0 PEER_WHY="no training data"
if [ -n "$PEER_DATA" ]; then
  PEER_CMD="taskset -c $SCPU $PY bench/peers/fastapi_intent.py --host 127.0.0.1 --port $P_PEER --data $PEER_DATA"
  $PEER_CMD >"$TMP/peer.log" 2>&1 &
  PEER_PID=$!
  PIDS+=("$PEER_PID")
  say "bench: FastAPI peer training on core $SCPU ..."
  if wait_http "http://127.0.0.1:$P_PEER/health" "$PEER_PID" 150; then
    PEER_OK=1
    say "bench: $(grep -m1 'trained on' "$TMP/peer.log" || true)"
  else
    PEER_WHY="the FastAPI peer did not start: $(tail -n 5 "$TMP/peer.log" | tr '\n' ' ')"
    say "bench: *** $PEER_WHY ***"
  fi
fi

# ---------------------------------------------------------------- sanity: real answers only
# POSTs the first body; the answer must be 200 with an "intent" field.
check_intent() {
  local name=$1 url=$2 code
  code=$(curl -s -o "$TMP/check.json" -w '%{http_code}' --max-time 5 \
    -H 'Content-Type: application/json' --data-binary "@$TMP/first.json" "$url" || true)
  if [ "$code" = 200 ] && "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if isinstance(d.get("intent"), str) else 1)' "$TMP/check.json" 2>/dev/null; then
    return 0
  fi
  say "bench: *** $name: POST $url answered $code: $(head -c 300 "$TMP/check.json" 2>/dev/null) ***"
  return 1
}
check_health() {
  local name=$1 url=$2
  curl -sf --max-time 5 "$url" | grep -q '"status"' && return 0
  say "bench: *** $name: GET $url does not answer {\"status\":...} ***"
  return 1
}
[ -s "$BODIES" ] && head -n 1 "$BODIES" >"$TMP/first.json"

# ---------------------------------------------------------------- wrk runs (pinned to CCPU)
ROWS=()        # "group|target|url|rps|p50_us|p99_us|errors|cpu_us_per_req|busy_pct" or "group|target|url|-|why"
COMMANDS=()
FAILED=0
WRK_BASE="taskset -c $CCPU wrk -t1 -c$CONNS -d${DUR}s --latency -s $LUA"

# bench_one GROUP TARGET URL PID [BODIES]
# A run whose server core was busy less than BUSY_MIN % was limited by the client side (wrk
# starved by other work on its core): it is repeated up to RETRIES times and the least
# disturbed attempt (the busiest server) is kept.
bench_one() {
  local group=$1 target=$2 url=$3 pid=$4 bodies=${5:-} out line t0 t1 attempt best= best_busy=-1
  out=$TMP/wrk-$group-${target// /_}.txt
  local cmd="$WRK_BASE $url"
  [ -n "$bodies" ] && cmd="WRK_BODIES=$bodies $cmd"
  COMMANDS+=("$cmd")
  say "bench: $group: $target ($url) ..."
  # Warm-up (discarded): first connections, caches, Python's first calls.
  WRK_BODIES=$bodies timeout $((WARM + 15)) taskset -c "$CCPU" wrk -t1 -c"$CONNS" -d${WARM}s -s "$LUA" "$url" >/dev/null 2>&1 || true
  for ((attempt = 0; attempt <= RETRIES; attempt++)); do
    t0=$(cpu_ticks "$pid")
    if ! WRK_BODIES=$bodies timeout $((DUR + 30)) $WRK_BASE "$url" >"$out" 2>&1; then
      ROWS+=("$group|$target|$url|-|wrk failed: $(tail -n 2 "$out" | tr '\n' ' ')")
      FAILED=1
      return
    fi
    t1=$(cpu_ticks "$pid")
    line=$(grep '^WRKSTATS ' "$out" || true)
    if [ -z "$line" ]; then
      ROWS+=("$group|$target|$url|-|no WRKSTATS line in wrk output")
      FAILED=1
      return
    fi
    local -A s=()
    local kv
    for kv in ${line#WRKSTATS }; do s[${kv%%=*}]=${kv#*=}; done
    local errors=$((s[status] + s[connect] + s[read] + s[write] + s[timeout]))
    if [ "${s[non2xx]}" -gt 0 ]; then errors=$((errors + s[non2xx] - s[status])); fi
    local cpu busy
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="${s[requests]}" 'BEGIN{ if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print "-" }')
    busy=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v us="${s[duration_us]}" 'BEGIN{ printf "%.0f", d / hz * 1e8 / us }')
    if [ "$busy" -gt "$best_busy" ]; then
      best="$group|$target|$url|${s[rps]}|${s[p50_us]}|${s[p99_us]}|$errors|$cpu|$busy"
      best_busy=$busy
      cp "$out" "$out.kept"
    fi
    if [ "$busy" -ge "$BUSY_MIN" ]; then break; fi
    if [ $attempt -lt "$RETRIES" ]; then say "bench:   server core only $busy % busy (wrk starved?): again"; fi
  done
  ROWS+=("$best")
  IFS='|' read -r _ _ _ _ _ _ errors _ _ <<<"$best"
  if [ "$errors" -gt 0 ]; then FAILED=1; fi
}

skip_row() { ROWS+=("$1|$2|$3|-|$4"); FAILED=1; }

# (a) GET /health
if check_health nginx "http://127.0.0.1:$P_NGINX/health"; then
  bench_one health nginx "http://127.0.0.1:$P_NGINX/health" "$NGINX_PID"
else skip_row health nginx /health "health check failed"; fi
if [ $KEFU_OK = 1 ] && check_health kefu "http://127.0.0.1:$P_KEFU/health"; then
  bench_one health kefu "http://127.0.0.1:$P_KEFU/health" "$KEFU_PID"
else skip_row health kefu /health "${KEFU_WHY:-health check failed}"; fi
if [ $PEER_OK = 1 ] && check_health peer "http://127.0.0.1:$P_PEER/health"; then
  bench_one health "FastAPI peer" "http://127.0.0.1:$P_PEER/health" "$PEER_PID"
else skip_row health "FastAPI peer" /health "$PEER_WHY"; fi

# (b) POST intent, the same bodies for all three
if [ -s "$BODIES" ]; then
  if check_intent nginx "http://127.0.0.1:$P_NGINX/v1/intent"; then
    bench_one intent nginx "http://127.0.0.1:$P_NGINX/v1/intent" "$NGINX_PID" "$BODIES"
  else skip_row intent nginx /v1/intent "sanity check failed"; fi
  if [ $KEFU_OK = 1 ] && check_intent kefu "http://127.0.0.1:$P_KEFU/v1/intent"; then
    bench_one intent kefu "http://127.0.0.1:$P_KEFU/v1/intent" "$KEFU_PID" "$BODIES"
  else skip_row intent kefu /v1/intent "${KEFU_WHY:-sanity check failed (no intent in the answer)}"; fi
  if [ $PEER_OK = 1 ] && check_intent peer "http://127.0.0.1:$P_PEER/intent"; then
    bench_one intent "FastAPI peer" "http://127.0.0.1:$P_PEER/intent" "$PEER_PID" "$BODIES"
  else skip_row intent "FastAPI peer" /intent "$PEER_WHY"; fi
fi

# (c) classifier latency per query
LAT_LINE=
if [ $KEFU_OK = 1 ] && [ -n "$MODEL" ]; then
  EVAL_CMD="$KEFU eval --model $MODEL --data $PEER_DATA --json"
  if timeout 120 $EVAL_CMD >"$TMP/eval.json" 2>"$TMP/eval.err"; then
    LAT_LINE=$("$PY" - "$TMP/eval.json" <<'EOF' || true
import json, sys
try:
    d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
except Exception:
    sys.exit(1)
if "latency_us_p50" not in d or "latency_us_p99" not in d:
    sys.exit(1)
acc = d.get("accuracy")
print(f"p50 {d['latency_us_p50']} µs, p99 {d['latency_us_p99']} µs per query over {d.get('n', '?')} queries"
      + (f" (accuracy on these rows {acc:.4f})" if isinstance(acc, (int, float)) else ""))
EOF
)
    [ -n "$LAT_LINE" ] || LAT_LINE="skipped: kefu eval --json has no latency_us_p50/latency_us_p99 fields yet"
  else
    LAT_LINE="skipped: kefu eval failed: $(tail -n 2 "$TMP/eval.err" | tr '\n' ' ')"
  fi
  LAT_LINE="$LAT_LINE  [\`$EVAL_CMD\`]"
else
  LAT_LINE="skipped: $KEFU_WHY"
fi

# ---------------------------------------------------------------- table, ratios, results file
rps_of() { # GROUP TARGET
  local r
  for r in "${ROWS[@]}"; do
    IFS='|' read -r g t _ rps _ <<<"$r"
    [ "$g" = "$1" ] && [ "$t" = "$2" ] && [ "$rps" != - ] && { echo "$rps"; return; }
  done
  echo -
}
ratio() { # A B TARGET_TEXT MIN
  if [ "$1" = - ] || [ "$2" = - ]; then echo "n/a"; return; fi
  awk -v a="$1" -v b="$2" -v t="$3" -v m="$4" 'BEGIN{ r = a / b; f = r >= 10 ? "%.0f×" : "%.2f×";
    printf f, r; printf " (target ≥ %s: %s)", t, (r >= m ? "met" : "NOT met") }'
}

fmt_us() { awk -v u="$1" 'BEGIN{ if (u >= 10000) printf "%.0f ms", u / 1000; else if (u >= 1000) printf "%.1f ms", u / 1000; else printf "%d µs", u }'; }

TABLE="| test | target | URL | req/s | p50 | p99 | errors | server CPU/req | server core busy |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in "${ROWS[@]}"; do
  IFS='|' read -r g t u rps p50 p99 err cpu busy <<<"$r"
  path=$u
  [[ $u == http://* ]] && path=/${u#http://*/}
  if [ "$rps" = - ]; then
    TABLE+=$'\n'"| $g | $t | $path | not run: $p50 | | | | | |"
  else
    TABLE+=$'\n'"| $g | $t | $path | $(printf '%.0f' "$rps") | $(fmt_us "$p50") | $(fmt_us "$p99") | $err | $cpu µs | $busy % |"
  fi
done

WARNINGS=
for r in "${ROWS[@]}"; do
  IFS='|' read -r g t u rps _ _ _ _ busy <<<"$r"
  if [ "$rps" != - ] && [ "$busy" -lt "$BUSY_MIN" ]; then
    WARNINGS+="- Warning: $g / $t: the server core was only $busy % busy, so the client side was the
  limit (wrk starved by other work on core $CCPU?): this number understates the server; rerun on a
  quieter machine."$'\n'
  fi
done

R1=$(ratio "$(rps_of health kefu)" "$(rps_of health nginx)" 0.7 0.7)
R2=$(ratio "$(rps_of intent kefu)" "$(rps_of intent nginx)" 0.6 0.6)
R3=$(ratio "$(rps_of intent kefu)" "$(rps_of intent "FastAPI peer")" 100 100)
RATIOS="- GET /health, kefu / nginx: $R1
- POST intent, kefu / nginx \`return 200\`: $R2
- POST intent, kefu / FastAPI peer: $R3
- Classifier latency (kefu eval): $LAT_LINE
$WARNINGS"

CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //' || echo unknown)
KEFU_VER=$([ -x "$KEFU" ] && "$KEFU" --version 2>/dev/null | head -n 1 || echo "not built")
PYVERS=$("$PY" -c 'import fastapi, uvicorn, sklearn, pydantic, sys
try:
    import uvloop, httptools; extra = f", uvloop {uvloop.__version__}, httptools {httptools.__version__}"
except ImportError:
    extra = " (no uvloop/httptools: asyncio + h11)"
print(f"Python {sys.version.split()[0]}, FastAPI {fastapi.__version__}, pydantic {pydantic.VERSION}, uvicorn {uvicorn.__version__}{extra}, scikit-learn {sklearn.__version__}")')

REPORT="# kefu benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')

Machine: $(nproc) cores, $CPU_MODEL, Linux $(uname -r). Servers pinned to core $SCPU (one
worker/thread each, run one at a time), wrk pinned to core $CCPU: 1 thread, $CONNS connections,
${DUR} s per run after a ${WARM} s warm-up.
Versions: $KEFU_VER; $(nginx -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}'); $PYVERS.
Data: $DATA_DESC${TRAIN_S:+; kefu train took $TRAIN_S s}. POST bodies: 200 query texts from it,
each with a random 32-hex session_id.

$TABLE

$RATIOS

Errors = responses ≥ 400 + socket errors (connect, read, write, timeout), as counted by wrk.
Server CPU/req = the server's user+system CPU time during the run divided by its requests;
server core busy = that CPU time over the run's length (near 100 %: the server, not wrk, was
the limit).

Commands (\`make bench\` = \`scripts/deps.sh bench && bench/run.sh\`):
\`\`\`
$NGINX_CMD
${KEFU_CMD:-# kefu: $KEFU_WHY}
${PEER_CMD:-# FastAPI peer: $PEER_WHY}
$(printf '%s\n' "${COMMANDS[@]}")
\`\`\`"

mkdir -p "$RESULTS"
printf '%s\n' "$REPORT" >"$RESULTS/latest.md"
printf '\n%s\n\n' "$REPORT"
say "bench: written to bench/results/latest.md"
[ $KEFU_OK = 1 ] || say "bench: *** kefu was not measured: $KEFU_WHY ***"
exit $FAILED
