#!/usr/bin/env bash
# `make bench` drives gunicorn with Debian's wrk (HTTP load generator). Install
# it when missing; without it (and without root to install it) the bench stops.
set -uo pipefail
if command -v wrk >/dev/null 2>&1; then exit 0; fi
echo "Installing Debian's wrk for the load test…"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if command -v wrk >/dev/null 2>&1; then exit 0; fi
echo "wrk could not be installed (apt-get as root is needed); install it and rerun make bench." >&2
exit 1
