#!/usr/bin/env bash
# The tests start their own redis-server (Debian package redis-server) on free loopback ports.
# Installs it when missing and this user may; otherwise says how.
set -euo pipefail
command -v redis-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing: installing it with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing: installing it with sudo apt-get" >&2
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
else
  echo "The tests need redis-server on PATH. Install Redis 7 (e.g. apt-get install redis-server, brew install redis)." >&2
  exit 1
fi
