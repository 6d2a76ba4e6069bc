#!/bin/sh
# Starts one Redis node of docker-compose.yml so that a restart never reasserts a stale role.
#   sh /deploy/redis-node.sh NAME INITIAL_MASTER
# NAME is this node's compose service name (announced to Sentinel instead of the container's IP,
# which changes on `down`/`up`); INITIAL_MASTER is the node that is primary on the very first start
# (a node named INITIAL_MASTER starts as master, any other as its replica).
# Environment: SENTINELS (host:port list, space or comma separated), SENTINEL_MASTER_NAME.
#
# The role comes from, in order:
#   1. the sentinels, asked at start (a node that was down during a failover learns the new master);
#   2. /data/redis.conf on the node's volume, written only when missing: Sentinel rewrites it
#      (CONFIG REWRITE) whenever it promotes or re-points this node, so it holds the last known role;
#   3. INITIAL_MASTER, for the first start only (when there is no /data/redis.conf yet).
set -eu
name=${1:?usage: redis-node.sh NAME INITIAL_MASTER}
initial_master=${2:?usage: redis-node.sh NAME INITIAL_MASTER}
master_name=${SENTINEL_MASTER_NAME:-mymaster}
conf=/data/redis.conf

if [ ! -s "$conf" ]; then
  {
    echo "port 6379"
    echo "dir /data"
    echo "appendonly yes"
    echo "replica-announce-ip $name"
    if [ "$name" != "$initial_master" ]; then echo "replicaof $initial_master 6379"; fi
  } >"$conf.part"
  mv "$conf.part" "$conf"
  exec redis-server "$conf"
fi

# Ask each sentinel (2 s each) for the master, for up to 5 rounds. Stop early when no sentinel name
# resolves: the sentinels are not running (a `down`/`up`: they start after the Redis nodes), and the
# role in redis.conf is the last one Sentinel wrote.
master=""
round=0
while [ -z "$master" ] && [ "$round" -lt 5 ]; do
  round=$((round + 1))
  unresolved=0
  total=0
  for sentinel in $(echo "${SENTINELS:-}" | tr ',' ' '); do
    total=$((total + 1))
    answer=$(timeout 2 redis-cli -h "${sentinel%:*}" -p "${sentinel##*:}" sentinel get-master-addr-by-name "$master_name" 2>&1 || true)
    case "$answer" in
      *"resolve"* | *"resolution"* | *"not known"* | *"No address"* | *"Name or service"* | *"Try again"*) unresolved=$((unresolved + 1)) ;;
      *"Could not connect"* | *"ERR"* | "") ;;
      *) master=$(echo "$answer" | head -1) && port=$(echo "$answer" | sed -n 2p) && break ;;
    esac
  done
  if [ -z "$master" ] && [ "$unresolved" -eq "$total" ]; then break; fi
  if [ -z "$master" ]; then sleep 1; fi
done

if [ -z "$master" ]; then
  echo "redis-node $name: no sentinel answered; starting with the role in $conf"
  exec redis-server "$conf"
elif [ "$master" = "$name" ]; then
  echo "redis-node $name: the sentinels name this node as master"
  exec redis-server "$conf" --replicaof no one
else
  echo "redis-node $name: the sentinels name $master:$port as master; starting as its replica"
  exec redis-server "$conf" --replicaof "$master" "$port"
fi
