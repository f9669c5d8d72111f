#!/usr/bin/env bash
# Start, stop and check the development CouchDB-compatible server (PouchDB Server from npm).
# Production runs Apache CouchDB 3; set COUCHDB_URL to use any server instead of this one.
# The server runs with scripts/couch-guard.js preloaded, which refuses every request without
# valid credentials (401), as CouchDB's `require_valid_user` does: PouchDB Server has no such
# setting, and one anonymous `PUT /<name>` would otherwise end its process.
#
#   scripts/couchdb.sh start DIR PORT   start (or reuse) a server with its data in DIR; a
#                                       server that died is started again
#   scripts/couchdb.sh stop DIR         stop the server whose PID file is in DIR
#   scripts/couchdb.sh check DIR        exit 0 when that server is alive
#   scripts/couchdb.sh run-with CMD...  start a throw-away server on a free port, export
#                                       COUCHDB_URL, run CMD, stop the server (also on failure)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/node_modules/pouchdb-server/bin/pouchdb-server"
GUARD="$ROOT/scripts/couch-guard.js"
USER_NAME="${COUCHDB_USER:-admin}"
PASSWORD="${COUCHDB_PASSWORD:-cradle-dev-password}"

say() { echo "couchdb: $*" >&2; }

pid_of() {  # the PID recorded in DIR, only if that process is still our server
  local dir="$1" pid
  [ -f "$dir/server.pid" ] || return 1
  pid="$(cat "$dir/server.pid")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "pouchdb-server" || return 1
  echo "$pid"
}

answers() {  # the server answers an authenticated request
  curl -sf -m 2 -u "$USER_NAME:$PASSWORD" "http://127.0.0.1:$1/_session" 2>/dev/null \
    | grep -q "\"name\":\"$USER_NAME\""
}

guarded() {  # the server refuses an anonymous request (the guard is loaded)
  [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/_all_dbs")" = 401 ]
}

start() {
  local dir="$1" port="$2"
  [ -f "$BIN" ] || { say "PouchDB Server is not installed (run: npm ci)"; exit 1; }
  mkdir -p "$dir/db"
  if pid="$(pid_of "$dir")"; then
    if answers "$port" && guarded "$port"; then
      say "already running (pid $pid) on 127.0.0.1:$port"; return 0
    fi
    if answers "$port"; then
      say "the server running from $dir (pid $pid) accepts anonymous requests; restarting it"
      stop "$dir"
    else
      say "a server is running from $dir (pid $pid) but does not answer on port $port; run make stop"
      exit 1
    fi
  elif [ -f "$dir/server.pid" ]; then
    say "the server of $dir (pid $(cat "$dir/server.pid")) is no longer running; starting it again"
    rm -f "$dir/server.pid"
  fi
  if curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/"; then
    say "port $port is taken by another process; set COUCHDB_PORT or COUCHDB_URL"
    exit 1
  fi
  # PouchDB Server hashes the admin password into this file at start; it is rewritten each
  # time so a changed COUCHDB_PASSWORD takes effect. It lives under .data/, never in git.
  COUCHDB_USER="$USER_NAME" COUCHDB_PASSWORD="$PASSWORD" python3 -c '
import json, os, sys
json.dump({"admins": {os.environ["COUCHDB_USER"]: os.environ["COUCHDB_PASSWORD"]},
           "log": {"file": sys.argv[2], "level": "warning"}}, open(sys.argv[1], "w"))
' "$dir/config.json" "$dir/server.log"
  chmod 600 "$dir/config.json"
  nohup node --require "$GUARD" "$BIN" --host 127.0.0.1 --port "$port" --dir "$dir/db/" \
    --config "$dir/config.json" --no-stdout-logs > "$dir/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/server.pid"
  local pid=$!
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "PouchDB Server died while starting; last lines of $dir/stdout.log:"
      tail -n 20 "$dir/stdout.log" >&2 || true
      rm -f "$dir/server.pid"
      exit 1
    fi
    if answers "$port"; then
      if ! guarded "$port"; then
        say "PouchDB Server answers anonymous requests: $GUARD did not load; stopping it"
        stop "$dir"
        exit 1
      fi
      say "running (pid $pid) on http://127.0.0.1:$port, data in $dir"
      return 0
    fi
    sleep 0.2
  done
  say "PouchDB Server did not come up on port $port within 30 s; last lines of $dir/stdout.log:"
  tail -n 20 "$dir/stdout.log" >&2 || true
  stop "$dir"
  exit 1
}

stop() {
  local dir="$1" pid
  if ! pid="$(pid_of "$dir")"; then rm -f "$dir/server.pid"; return 0; fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/server.pid"
  say "stopped (pid $pid)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_with() {
  if [ -n "${COUCHDB_URL:-}" ]; then "$@"; return $?; fi
  local port status=0
  RUN_DIR="$ROOT/.data/test-couchdb"
  local dir="$RUN_DIR"
  port="$(free_port)"
  stop "$dir" 2>/dev/null || true
  rm -rf "$dir"
  start "$dir" "$port"
  trap 'stop "$RUN_DIR"' EXIT
  export COUCHDB_URL="http://127.0.0.1:$port"
  export COUCHDB_USER="$USER_NAME" COUCHDB_PASSWORD="$PASSWORD"
  "$@" || status=$?
  if ! pid_of "$dir" > /dev/null; then
    say "the CouchDB-compatible server DIED during the run; last lines of $dir/stdout.log:"
    tail -n 30 "$dir/stdout.log" >&2 || true
    [ "$status" -ne 0 ] || status=1
  fi
  return "$status"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  start) start "$1" "$2" ;;
  stop) stop "$1" ;;
  check) pid_of "$1" > /dev/null ;;
  run-with) run_with "$@" ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | check DIR | run-with CMD..." >&2; exit 2 ;;
esac
