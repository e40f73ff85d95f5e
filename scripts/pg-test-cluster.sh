#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for vaultgate's PostgreSQL tests and benchmarks.
#
#   scripts/pg-test-cluster.sh start DIR   # prints `export …` lines; eval them
#   scripts/pg-test-cluster.sh stop DIR
#
# `start` installs Debian's `postgresql` if no server binaries are found, runs initdb in DIR
# as the `postgres` user (initdb refuses root), starts the server on a free loopback port with
# its socket in DIR (no listening on other interfaces), and creates:
#   - the database `vaultgate_test`, owned by the role `vaultgate_owner` (LOGIN CREATEROLE:
#     it creates the schemas of the tests and applies the runner grants);
#   - the role `vaultgate_runner` (LOGIN, no privileges until the documented grants are applied).
# Authentication is `trust` on 127.0.0.1 only: this cluster is for tests, never for data.
# It prints VAULTGATE_TEST_DATABASE_URL (the owner) and VAULTGATE_TEST_RUNNER_URL.
# Typical use (what .ci/run does):
#   PGDIR=$(mktemp -d); trap 'scripts/pg-test-cluster.sh stop "$PGDIR"' EXIT
#   eval "$(scripts/pg-test-cluster.sh start "$PGDIR")"
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

case "$cmd" in
start)
  if ! bindir >/dev/null; then
    echo "installing postgresql (no server binaries found)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  bin=$(bindir) || { echo "error: PostgreSQL server binaries not found after install" >&2; exit 2; }
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  chmod 0700 "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 2; }
  # A test cluster: fsync stays on (the benchmarks measure durable commits).
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses=127.0.0.1 -p $port -c max_connections=200" start >&2 \
    || { cat "$dir/server.log" >&2; exit 2; }
  echo "$port" >"$dir/port"
  psql_() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"; }
  psql_ -d postgres -c "CREATE ROLE vaultgate_owner LOGIN CREATEROLE" \
    -c "CREATE ROLE vaultgate_runner LOGIN" \
    -c "CREATE DATABASE vaultgate_test OWNER vaultgate_owner" >&2
  psql_ -d vaultgate_test -c "REVOKE ALL ON SCHEMA public FROM PUBLIC" \
    -c "ALTER SCHEMA public OWNER TO vaultgate_owner" \
    -c "GRANT CONNECT ON DATABASE vaultgate_test TO vaultgate_runner" >&2
  echo "export VAULTGATE_TEST_DATABASE_URL=postgres://vaultgate_owner@127.0.0.1:$port/vaultgate_test"
  echo "export VAULTGATE_TEST_RUNNER_URL=postgres://vaultgate_runner@127.0.0.1:$port/vaultgate_test"
  echo "export VAULTGATE_TEST_PG_SUPERUSER_URL=postgres://postgres@127.0.0.1:$port/vaultgate_test"
  ;;
stop)
  if [ -d "$dir/data" ]; then
    bin=$(bindir) || exit 0
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
