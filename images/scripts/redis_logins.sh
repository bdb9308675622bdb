#!/bin/sh
# The logins keeper of the app's Redis credential (components/logins.py): every second, the
# app's two ACL users have the passwords in their files, the active one is on, and the
# retiring one is turned off once no client of it has been seen for the idle time. It
# reaches Redis through its socket as the admin user; passwords go to Redis as hashes only.
#   REDIS_SOCKET=... REDIS_ADMIN_USER=admin sh redis_logins.sh [--once]
set -u
config="${PRODSTACK_CONFIG:-/run/prodstack/config}/logins.conf"
secrets="${PRODSTACK_SECRETS:-/run/prodstack/secrets}"
alive="${PRODSTACK_LOGINS_ALIVE:-/tmp/logins-alive}"
once=""
[ "${1:-}" != "--once" ] || once=1

cli() {
  REDISCLI_AUTH="$(cat "$secrets/redis-admin-password")" \
    redis-cli --no-auth-warning -s "$REDIS_SOCKET" --user "$REDIS_ADMIN_USER" "$@"
}
setting() { sed -n "s/^$1 //p" "$config"; }
password_hash() { printf %s "$(cat "$secrets/login-$1")" | sha256sum | cut -d' ' -f1; }
# ACL GETUSER prints each field's name on a line, then its values: those of $2, up to $3.
field() { cli ACL GETUSER "$1" | sed -n "/^$2\$/,/^$3\$/p"; }

# The container's first process: without a handler SIGTERM would be ignored, and a stop would
# wait out the whole grace period.
trap 'exit 0' TERM INT
counting=""
idle_since=$(date +%s)
while :; do
  ok=1
  active=$(setting active)
  retiring=$(setting retiring)
  idle=$(setting retire-after-idle-seconds)
  now=$(date +%s)
  if [ "$counting" != "$active $retiring" ]; then
    # A new switch: the retiring login's idle time counts from now.
    counting="$active $retiring"
    idle_since=$now
  fi
  for login in $active $retiring; do
    if [ ! -s "$secrets/login-$login" ]; then
      ok=""  # being rewritten: the next pass applies it
      continue
    fi
    wanted=$(password_hash "$login")
    if ! field "$login" passwords commands | grep -qx "$wanted"; then
      cli ACL SETUSER "$login" resetpass "#$wanted" >/dev/null || ok=""
    fi
  done
  if ! field "$active" flags passwords | grep -qx on; then
    cli ACL SETUSER "$active" on >/dev/null || ok=""
  fi
  clients=$(cli CLIENT LIST) || ok=""
  case " $clients" in *" user=$retiring "*) idle_since=$now ;; esac
  if [ $((now - idle_since)) -ge "$idle" ] && field "$retiring" flags passwords | grep -qx on; then
    cli ACL SETUSER "$retiring" off >/dev/null && echo "prodstack-logins: revoked $retiring" >&2
  fi
  if [ -n "$ok" ]; then
    touch "$alive"
  else
    echo "prodstack-logins: not applied (is Redis up?)" >&2
  fi
  if [ -n "$once" ]; then
    [ -n "$ok" ] && exit 0 || exit 1
  fi
  sleep 1 &
  wait $! || true
done
