#!/bin/sh
# The official postgres image's environment contract:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default
#   postgres), POSTGRES_DB (default $POSTGRES_USER), POSTGRES_HOST_AUTH_METHOD (default
#   scram-sha-256), POSTGRES_INITDB_ARGS, and *.sql / *.sh files in /docker-entrypoint-initdb.d.
# Any other command (psql, pg_isready, sh...) runs as given.
set -eu
case "${1:-postgres}" in
  -*) set -- postgres "$@" ;;
  postgres) ;;
  *) exec "$@" ;;
esac
# postgres --version, --help, -C...: answers without a data directory.
for arg in "$@"; do
  case "$arg" in
    -V | --version | --help | '-?' | --describe-config | -C | -C*) exec "$@" ;;
  esac
done
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec runuser -u postgres -- "$0" "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
    echo "       (set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  pwopt=
  [ -n "${POSTGRES_PASSWORD:-}" ] && pwopt="--pwfile=$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
  # --no-sync: a CI service does not need initdb to wait for the disk.
  initdb -D "$PGDATA" -U "$POSTGRES_USER" $pwopt -E UTF8 --locale=C.UTF-8 --no-sync \
    --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  echo "host all all all $POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\";" | postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi

  if [ -n "$(ls -A /docker-entrypoint-initdb.d 2>/dev/null)" ]; then
    # Socket only, so clients cannot connect before initialization is complete.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh)
          echo "running $f"
          # shellcheck disable=SC1090 # user scripts, sourced as the official image does
          . "$f"
          ;;
        *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" >/dev/null ;;
        *.sql.gz) echo "running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" >/dev/null ;;
        *) echo "ignoring $f" ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi
shift
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
