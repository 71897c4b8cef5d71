#!/bin/sh
# Runs the Twilio SDK suite against an otpd binary: installs the pinned SDK from this
# directory's own lockfile (npm ci), then node's test runner. Usage: run-tests.sh OTPD_BINARY
set -eu
cd "$(dirname "$0")"
if [ $# -ne 1 ]; then
  echo "usage: $0 path/to/otpd" >&2
  exit 2
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "twilio tests: node (20 or later) and npm are needed" >&2
  exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "twilio tests: the pinned twilio SDK needs node 20 or later (found $(node --version))" >&2
  exit 1
fi
OTPD_BIN=$(realpath "$1")
export OTPD_BIN
npm ci --no-audit --no-fund --loglevel=error
exec node --test --test-concurrency=1 test/
