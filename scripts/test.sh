#!/usr/bin/env bash
# The whole test suite: installs what is missing, type-checks, builds, runs every test with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx --no-install tsc -p tsconfig.json --noEmit
mapfile -t files < <(find src test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=2 "${files[@]}"
