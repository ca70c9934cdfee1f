#!/usr/bin/env bash
# Builds the test vPLC images without a registry: a root filesystem made of the host's static
# busybox (shell, cat, stty, sleep, head, yes, base64, sha256sum, ...) imported with `docker import`.
#   tether-test-vplc:sh    busybox only: /bin/sh, no bash (exercises the shell fallback)
#   tether-test-vplc:bash  the same plus the host's /bin/bash, the libraries it links and its C.utf8 locale
# Both have `nohup` (busybox-static lacks it; a small script: ignore SIGHUP, then exec), so that
# tests can start what an operator would to escape a session. Containers get their init from
# `docker run --init` (harness/docker.ts), which reaps what a killed session leaves orphaned.
# Usage: test/image/build.sh [--force]. Needs a running Docker engine and /bin/busybox or
# /usr/bin/busybox (Debian: busybox-static). Images of an older IMAGE_VERSION are rebuilt.
set -euo pipefail

force=${1:-}
busybox=$(command -v busybox || true)
if [ -z "$busybox" ]; then
  echo "build.sh: busybox is missing (Debian: apt-get install busybox-static)" >&2
  exit 1
fi
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked' && ldd "$busybox" >/dev/null 2>&1; then
  echo "build.sh: $busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi

# Raised when the images' content changes, so that a machine with older images rebuilds them.
IMAGE_VERSION=4
have() { [ "$(docker image inspect -f '{{index .Config.Labels "tether.test-image"}}' "$1" 2>/dev/null)" = "$IMAGE_VERSION" ]; }
if [ "$force" != "--force" ] && have tether-test-vplc:sh && have tether-test-vplc:bash; then
  exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home/plc,proc,dev,sys,var/log}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
plc:x:1000:1000:vPLC runtime:/home/plc:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
plc:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 "$root/home/plc"
cat > "$root/usr/bin/nohup" <<'NOHUP'
#!/bin/sh
# nohup as coreutils has it: the command ignores SIGHUP; output to a terminal goes to nohup.out,
# or $HOME/nohup.out where the working directory is not writable.
trap '' HUP
if [ -t 1 ]; then
  if ( : >>nohup.out ) 2>/dev/null; then exec >>nohup.out; else exec >>"${HOME:-/tmp}/nohup.out"; fi
fi
if [ -t 2 ]; then exec 2>&1; fi
exec "$@"
NOHUP
chmod 0755 "$root/usr/bin/nohup"
echo 'tether-test-vplc' > "$root/etc/hostname"

tar -C "$root" -c . | docker import \
  --change 'CMD ["/bin/sleep", "2147483"]' \
  --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL tether.test-image=$IMAGE_VERSION" \
  - tether-test-vplc:sh >/dev/null

# The bash variant: the host's bash and the shared libraries it needs, at the same paths.
cp /bin/bash "$root/bin/bash.real"
mv "$root/bin/bash.real" "$root/bin/bash"
ldd /bin/bash | grep -oE '/[^ ]+' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# glibc's C.UTF-8 locale, as Debian-based runtime images have it (libc-bin): no LANG is set, so the
# agent's session script chooses it (agent/src/session-standing.ts).
if [ -d /usr/lib/locale/C.utf8 ]; then
  mkdir -p "$root/usr/lib/locale"
  cp -r /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
fi
tar -C "$root" -c . | docker import \
  --change 'CMD ["/bin/sleep", "2147483"]' \
  --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL tether.test-image=$IMAGE_VERSION" \
  - tether-test-vplc:bash >/dev/null
echo "built tether-test-vplc:sh and tether-test-vplc:bash"
