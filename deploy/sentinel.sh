#!/bin/sh
# Runs one Redis Sentinel of docker-compose.yml with its state on the volume mounted at /data.
#   sh /deploy/sentinel.sh          start the sentinel
#   sh /deploy/sentinel.sh check    healthcheck: exit 0 only when this sentinel names a master that
#                                   answers ROLE as master and a failover quorum can be reached
# Environment: SENTINEL_MASTER_NAME (mymaster), SENTINEL_INITIAL_MASTER (host, first start only),
# SENTINEL_QUORUM (2), SENTINEL_DOWN_AFTER_MS (5000), SENTINEL_FAILOVER_TIMEOUT_MS (20000).
#
# /data/sentinel.conf is written only when it is missing. Sentinel rewrites it as it learns (the
# current master after a failover, the known replicas and sentinels, its own id, the epoch), so a
# restarted sentinel carries on from what it knew instead of monitoring the initial master again.
set -eu
master_name=${SENTINEL_MASTER_NAME:-mymaster}
conf=/data/sentinel.conf

if [ "${1:-}" = check ]; then
  addr=$(timeout 2 redis-cli -p 26379 sentinel get-master-addr-by-name "$master_name")
  host=$(echo "$addr" | sed -n 1p)
  port=$(echo "$addr" | sed -n 2p)
  [ -n "$host" ] && [ -n "$port" ] || { echo "no master known for $master_name"; exit 1; }
  role=$(timeout 2 redis-cli -h "$host" -p "$port" role | head -1)
  [ "$role" = master ] || { echo "$host:$port answers role '$role', not master"; exit 1; }
  quorum=$(timeout 2 redis-cli -p 26379 sentinel ckquorum "$master_name" 2>&1)
  case "$quorum" in OK*) exit 0 ;; *) echo "$quorum"; exit 1 ;; esac
fi

if [ ! -s "$conf" ]; then
  {
    echo "port 26379"
    echo "dir /data"
    echo "sentinel resolve-hostnames yes"
    echo "sentinel announce-hostnames yes"
    echo "sentinel monitor $master_name ${SENTINEL_INITIAL_MASTER:?SENTINEL_INITIAL_MASTER is needed on the first start} 6379 ${SENTINEL_QUORUM:-2}"
    echo "sentinel down-after-milliseconds $master_name ${SENTINEL_DOWN_AFTER_MS:-5000}"
    echo "sentinel failover-timeout $master_name ${SENTINEL_FAILOVER_TIMEOUT_MS:-20000}"
  } >"$conf.part"
  mv "$conf.part" "$conf"
fi
exec redis-server "$conf" --sentinel
