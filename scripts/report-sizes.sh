#!/usr/bin/env bash
# Prints the size of every built plugin component.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in target/wasm32-wasip2/plugin/ecs_plugin_*.wasm; do
  printf '%-60s %8d bytes\n' "$f" "$(stat -c %s "$f")"
done
