#!/usr/bin/env bash
# Install what the tests need and run the whole suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-test.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Debian's chromium is not installed (sudo apt-get install chromium): browser tests will be skipped." >&2
  fi
fi
exec python -m pytest "$@"
