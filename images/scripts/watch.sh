#!/bin/sh
# Runs a server, and watches files it reads only when it starts (a certificate that
# cert-manager renews in place): when they change, reloads it with RELOAD, or restarts it
# when there is no RELOAD. SIGTERM stops it (with STOP when given, else SIGTERM to it); when
# it stops on its own, so does the container, and the runtime restarts it.
#   sh watch.sh [--reload RELOAD] [--stop STOP] [--watch FILE]... -- SERVER [ARG...]
# The edge reloads nginx (new workers take the new certificate, old ones finish their
# connections: a renewal drops nothing); Redis is told to read its certificate again (CONFIG
# SET of its tls-* files). Without RELOAD a server is restarted (SIGTERM).
set -eu
reload=""
stop=""
files=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --reload) reload="$2"; shift 2 ;;
    --stop) stop="$2"; shift 2 ;;
    --watch) files="$files $2"; shift 2 ;;
    --) shift; break ;;
    *) echo "watch.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$#" -gt 0 ] || { echo "watch.sh: no server command after --" >&2; exit 2; }
# Also how soon a server that stopped takes the container down with it.
interval="${PRODSTACK_RELOAD_SECONDS:-2}"

# shellcheck disable=SC2086 # the watched paths are the stack's own, without spaces
digest() { [ -z "$files" ] || cat $files 2>/dev/null | cksum; }
run() { "$@" & pid=$!; }
terminate() {
  if [ -n "$stop" ]; then sh -c "$stop" || true; else kill -TERM "$pid" 2>/dev/null || true; fi
  wait "$pid"
  exit $?
}

run "$@"
trap terminate TERM INT QUIT
last=$(digest)
while :; do
  sleep "$interval" &
  wait $! || true
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    exit $?
  fi
  now=$(digest)
  [ "$now" != "$last" ] || continue
  if [ -n "$reload" ]; then
    if sh -c "$reload"; then
      echo "prodstack-watch: files changed, reloaded" >&2
      last="$now"
    fi
  else
    echo "prodstack-watch: files changed, restarting" >&2
    kill -TERM "$pid"
    wait "$pid" || true
    run "$@"
    last="$now"
  fi
done
