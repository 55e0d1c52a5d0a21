#!/bin/bash
# (Copied from the team's shared tools so that test:container and CI are self-contained.)
# Builds a local stand-in for the `node:20-bookworm-slim` base image, for machines that can reach
# Debian's package mirror and the npm registry but not a container registry.
#
#   make-node-base-image.sh [TAG]        default TAG: likeness-test/node:20-bookworm-slim
#
# What it makes: a minimal Debian bookworm root file system (debootstrap, from the mirror this
# machine's apt already uses), this machine's own `node` and `npm`, a `node` user with uid/gid 1000
# (as in the official image), and this machine's CA bundle (so npm inside a build trusts the same
# registry certificates this machine does). Then: docker build --build-arg NODE_IMAGE=TAG …
# Needs root. Installs docker.io and debootstrap when missing, and starts dockerd when it is not
# running (log: /tmp/dockerd.log). Takes about a minute once the packages are cached.
set -euo pipefail
TAG=${1:-likeness-test/node:20-bookworm-slim}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
DOCKER=/usr/bin/docker   # the Debian client that matches the Debian daemon
if ! $DOCKER info >/dev/null 2>&1; then
  (setsid dockerd >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 1 30); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
  $DOCKER info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/dockerd.log" >&2; exit 1; }
fi

# The Debian mirror apt already uses on this machine.
mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -oE '^(URIs:|deb) +[a-z]+://[^ ]+' | awk '{print $2}' | grep -v security | head -1 || true)
[ -n "$mirror" ] || { echo "no Debian mirror found in apt's sources" >&2; exit 1; }

root=$(mktemp -d -t node-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null

node_bin=$(command -v node)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")   # …/node_modules/npm
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" /bin/sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
chroot "$root" /usr/local/bin/node --version >/dev/null

changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]')
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | $DOCKER import "${changes[@]}" - "$TAG" >/dev/null
echo "built $TAG ($($DOCKER image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')), node $("$node_bin" --version)"
