#!/usr/bin/env bash
# Prepares a Debian machine (as root) for Tether's demo and tests: installs the system packages
# they use and starts the Docker engine when none answers. Safe to run again. `npm test` and
# `npm run demo` run it (scripts/bootstrap.mjs).
#   --check   only say what is missing (any user); exit 1 if anything is
set -euo pipefail
check=${1:-}
export DEBIAN_FRONTEND=noninteractive

# The Docker engine, Chromium for the renderer tests, busybox-static for the test vPLC images,
# coturn and Redis for the network tests, iproute2 and iptables for network namespaces, gcc with
# libnetfilter-queue-dev for the tests' packet delayer (harness/nfq-delay.c; the kernel may lack
# netem), systemd for `systemd-analyze verify` of the agent's unit (nothing is started with it), and
# asciinema to play the agent's recordings in its tests, and the Noto CJK and colour emoji fonts that
# the console's terminal falls back to for Japanese, Chinese, Korean and emoji (test/e2e/console-readable).
packages=(docker.io chromium busybox-static coturn redis-server iproute2 iptables gcc libc6-dev libnetfilter-queue-dev procps ca-certificates file systemd asciinema fonts-noto-cjk fonts-noto-color-emoji)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "$check" = "--check" ]; then
  status=0
  [ ${#missing[@]} -eq 0 ] || { echo "setup: missing packages: ${missing[*]}"; status=1; }
  docker info >/dev/null 2>&1 || { echo "setup: no Docker engine answers (or this user may not use it)"; status=1; }
  exit $status
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# No bridge and no iptables: the test and demo containers run with --network none.
if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  nohup dockerd --bridge=none --iptables=false >/var/log/tether-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "setup: dockerd did not start; see /var/log/tether-dockerd.log" >&2
    tail -20 /var/log/tether-dockerd.log >&2
    exit 1
  fi
fi
echo "setup: ready (Docker $(docker info --format '{{.ServerVersion}}'), $(chromium --version 2>/dev/null))"
