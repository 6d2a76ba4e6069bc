#!/usr/bin/env bash
# Makes the two base images docker-compose.yml and the Dockerfile name, without a registry:
#   node:24-slim    Debian bookworm (debootstrap --variant=minbase) + Node 24 from the npm registry's
#                   node@24 package + a `node` user (uid 1000), as in the official image
#   redis:7-alpine  the same Debian + Debian's redis-server 7.0, /data as working directory, and
#                   `--protected-mode no` appended to every redis-server start: the official image
#                   turns protected mode off, Debian's build does not (stand-in only, never in the
#                   project's files)
# Both images share one root filesystem (Debian with redis-server installed), kept as a tarball in
# $CACHE_DIR so a re-run only imports it. Needs root, debootstrap and DOCKER_HOST of a running dockerd.
#   test/compose/make-base-images.sh CACHE_DIR
set -euo pipefail
cache=${1:?usage: make-base-images.sh CACHE_DIR}
mkdir -p "$cache"
# Bump when what goes into the root filesystem changes, so an old cached tarball is not reused.
rootfs_version=bookworm-minbase-redis-1
tarball="$cache/$rootfs_version.tar"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -s "$tarball" ]; then
  echo "make-base-images: debootstrap bookworm into $work/rootfs (about a minute)"
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  debootstrap --variant=minbase bookworm "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  # Install redis-server inside the root filesystem; policy-rc.d stops its postinst from starting it.
  printf '#!/bin/sh\nexit 101\n' >"$work/rootfs/usr/sbin/policy-rc.d"
  chmod +x "$work/rootfs/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$work/rootfs/etc/resolv.conf"
  mount --bind /proc "$work/rootfs/proc"
  chroot "$work/rootfs" sh -c 'apt-get install -y -qq --no-install-recommends redis-server >/dev/null && apt-get clean' \
    || { umount "$work/rootfs/proc"; exit 1; }
  umount "$work/rootfs/proc"
  rm -f "$work/rootfs/usr/sbin/policy-rc.d" "$work/rootfs/etc/resolv.conf"
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin
  tar -C "$work/rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$work/rootfs"
fi
docker import "$tarball" stickless-test/bookworm-redis:"$rootfs_version" >/dev/null

# Node 24 from the npm registry (the node@24 package brings the official linux binary).
if [ ! -x "$cache/node24/node_modules/node/bin/node" ]; then
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$cache/node24" node@24 >/dev/null
fi
mkdir -p "$work/node"
cp "$(readlink -f "$cache/node24/node_modules/node/bin/node")" "$work/node/node"
cat >"$work/node/Dockerfile" <<DOCKERFILE
FROM stickless-test/bookworm-redis:$rootfs_version
COPY node /usr/local/bin/node
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
CMD ["node"]
DOCKERFILE
docker build -q -t node:24-slim "$work/node" >/dev/null

mkdir -p "$work/redis"
cat >"$work/redis/redis-server" <<'WRAPPER'
#!/bin/sh
exec /usr/bin/redis-server "$@" --protected-mode no
WRAPPER
chmod +x "$work/redis/redis-server"
cat >"$work/redis/Dockerfile" <<DOCKERFILE
FROM stickless-test/bookworm-redis:$rootfs_version
COPY redis-server /usr/local/bin/redis-server
RUN mkdir -p /data
WORKDIR /data
CMD ["redis-server"]
DOCKERFILE
docker build -q -t redis:7-alpine "$work/redis" >/dev/null
echo "make-base-images: node:24-slim and redis:7-alpine ready"
