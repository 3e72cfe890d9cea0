#!/usr/bin/env bash
# Webhook intake benchmark: agen as a row of ../shared/bench/run-all.sh, measured in the same
# run as the peers (rust-floor, node-octokit, ...). 2xx from agen means "on disk": the delivery
# is appended to the inbox journal and fdatasync'ed (group commit) before the answer; a copier
# moves it into SQLite off the request path. The row count at the end checks every 2xx landed.
#
# usage: benches/webhook.sh          (needs wrk, node/npm, python3, openssl; installs wrk if missing)
# env:   BENCH_ONLY (default: the rows compared below), and every run-all.sh knob.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${AGEN_SHARED:-$root/../shared}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

cargo build --release --locked --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/agen"
work="$(mktemp -d /tmp/agen-bench.XXXXXX)"
key="$root/fixtures/demo-app-key.pem"
env_common="APP_ID=1 PRIVATE_KEY_PATH=$key WEBHOOK_SECRET=bench-secret RUST_LOG=warn GITHUB_API_URL=http://127.0.0.1:9"

# Idle RSS: the web process alone, and web + intake (GitHub unreachable, so intake just waits).
idle_rss() {  # $1 = port, rest = args
  local port="$1"; shift
  # shellcheck disable=SC2086
  env $env_common DATABASE_URL="sqlite://$work/idle-$port.db" AGEN_LISTEN="127.0.0.1:$port" "$bin" "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  sleep 2
  awk '/VmRSS/{printf "%.1f MB\n", $2/1024}' "/proc/$pid/status"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
echo "idle RSS, agen serve --web-only: $(idle_rss 8110 serve --web-only)"
echo "idle RSS, agen serve:            $(idle_rss 8111 serve)"

export BENCH_ONLY="${BENCH_ONLY:-^(rust-floor#1|rust-floor-sqlite-full|node-octokit|agen|rust-floor#2)$}"
export BENCH_EXTRA="agen|8108|env $env_common DATABASE_URL=sqlite://$work/agen.db AGEN_LISTEN=127.0.0.1:8108 $bin serve --web-only|agen serve --web-only: verify, envelope, journal append + fdatasync (group commit), 202"
"$shared/bench/run-all.sh"

# Durability: every 2xx is a stored row (plus the in-flight requests wrk stopped counting).
# run-all stops agen without notice, so start it once more: it copies what its journal holds
# before it listens.
# shellcheck disable=SC2086
env $env_common DATABASE_URL="sqlite://$work/agen.db" AGEN_LISTEN=127.0.0.1:8112 "$bin" serve --web-only >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8112/healthz && break; sleep 0.1; done
kill "$pid"; wait "$pid" 2>/dev/null || true
python3 - "$work/agen.db" <<'PY'
import sqlite3, sys
n = sqlite3.connect(sys.argv[1]).execute("select count(*) from inbox").fetchone()[0]
print(f"agen rows stored in its inbox over both payloads: {n}")
PY
rm -rf "$work"
