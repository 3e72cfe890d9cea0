#!/usr/bin/env bash
# Workspace benchmark: "workspace ready" on a warm mirror (taken from a spare, and built on
# the spot) against `git clone --depth 1` over HTTP, on a generated 5,000-file repository
# served by `git http-backend`. Prints times (medians) and ratios; asserts nothing.
#
# usage: benches/workspace.sh
# env:   AGEN_BENCH_DIR    filesystem to work on (default: the system temp dir; try /dev/shm)
#        AGEN_BENCH_FILES  files in the generated repository (default 5000)
#        AGEN_BENCH_ROUNDS rounds (default 5)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo test --manifest-path "$root/Cargo.toml" --lib --quiet \
  workspace::bench -- --ignored --nocapture 2>&1 | grep -E '^(workspace bench|  )'
