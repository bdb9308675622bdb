#!/bin/sh
# The edge container's entry point: run nginx, reload it when a watched file (the
# certificate) changes, and stop it gracefully on SIGTERM.
# A reload starts new workers with the new certificate; old workers finish their
# connections first, so a renewal drops nothing.
#   sh reloader.sh NGINX_CONF WATCHED_FILE...
set -eu
conf="$1"
shift
interval="${PRODSTACK_RELOAD_SECONDS:-30}"

digest() { cat "$@" 2>/dev/null | cksum; }

nginx -c "$conf" -g 'daemon off;' &
nginx_pid=$!
trap 'nginx -c "$conf" -s quit; wait "$nginx_pid"; exit 0' TERM INT QUIT

last=$(digest "$@")
while kill -0 "$nginx_pid" 2>/dev/null; do
  sleep "$interval" &
  wait $! || true
  now=$(digest "$@")
  if [ "$now" != "$last" ] && nginx -c "$conf" -t -q; then
    echo "prodstack-edge: certificate changed, reloading nginx" >&2
    nginx -c "$conf" -s reload
    last="$now"
  fi
done
wait "$nginx_pid"
