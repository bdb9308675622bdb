#!/bin/sh
# The Redis container's entry point: run redis-server, and restart it when a watched file
# (its TLS certificate, which cert-manager renews in place) changes: redis-server reads its
# certificate only at start. SIGTERM stops it the usual way (the append-only file is synced).
#   sh entrypoint.sh REDIS_CONF [WATCHED_FILE...]
set -eu
conf="$1"
shift
# Also how soon a crashed redis-server takes the container down with it, to be restarted.
interval="${PRODSTACK_RELOAD_SECONDS:-2}"

digest() { [ "$#" -eq 0 ] || cat "$@" 2>/dev/null | cksum; }

redis-server "$conf" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit $?' TERM INT

last=$(digest "$@")
while :; do
  sleep "$interval" &
  wait $! || true
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"  # it stopped on its own: so does the container, and the runtime restarts it
    exit $?
  fi
  now=$(digest "$@")
  if [ "$now" != "$last" ]; then
    echo "prodstack-redis: certificate changed, restarting redis-server" >&2
    kill -TERM "$pid"
    wait "$pid" || true
    redis-server "$conf" &
    pid=$!
    last="$now"
  fi
done
