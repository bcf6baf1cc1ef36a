#!/usr/bin/env bash
# walstream demo: a writer feeding a sample database, a primary capturing and serving it, and a
# read replica following it, with one live status line. Ctrl-C stops everything cleanly.
#
#   deploy/demo.sh [path/to/walstream]
set -euo pipefail

WALSTREAM=$(realpath "${1:-build/walstream}")
command -v sqlite3 >/dev/null || { echo "demo: the sqlite3 command is needed (apt-get install sqlite3)" >&2; exit 1; }
[ -x "$WALSTREAM" ] || { echo "demo: $WALSTREAM is not built (run: make build)" >&2; exit 1; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/walstream-demo-XXXXXX")
PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo: logs and databases are in $DIR"
}
trap cleanup INT TERM EXIT

echo "demo: working in $DIR"
sqlite3 "$DIR/app.db" <<'SQL' >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, at TEXT, payload BLOB);
SQL

# The writer: one small transaction every 50 ms, like a busy application.
(
  n=0
  while :; do
    n=$((n + 1))
    sqlite3 "$DIR/app.db" "PRAGMA busy_timeout=2000; INSERT INTO events(at, payload) VALUES(strftime('%Y-%m-%dT%H:%M:%f','now'), randomblob(100));" >/dev/null 2>>"$DIR/writer.log" || true
    sleep 0.05
  done
) &
PIDS+=($!)

"$WALSTREAM" primary --http 127.0.0.1:0 "$DIR/app.db" 2>"$DIR/primary.log" &
PIDS+=($!)
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$DIR/primary.log" | head -n1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "demo: the primary did not start:" >&2; cat "$DIR/primary.log" >&2; exit 1; }
echo "demo: primary serving http://127.0.0.1:$PORT  (try: curl -sN 'http://127.0.0.1:$PORT/stream?pos=' | $WALSTREAM inspect)"

REPLICA=no
if "$WALSTREAM" replica --help >/dev/null 2>&1; then
  "$WALSTREAM" replica --upstream "http://127.0.0.1:$PORT" "$DIR/replica.db" 2>"$DIR/replica.log" &
  PIDS+=($!)
  REPLICA=yes
  echo "demo: replica following into $DIR/replica.db"
fi
echo "demo: press Ctrl-C to stop"

count() { sqlite3 -cmd ".timeout 1000" "file:$1?mode=ro" "SELECT count(*) FROM events;" 2>/dev/null || echo "-"; }
while :; do
  pos=$(cat "$DIR/app.db-walstream/position" 2>/dev/null || echo "-")
  shadow=$(du -sh "$DIR/app.db-walstream" 2>/dev/null | cut -f1)
  line="primary rows=$(count "$DIR/app.db") shadow=$shadow pos=$pos"
  if [ "$REPLICA" = yes ]; then
    line="$line | replica rows=$(count "$DIR/replica.db")"
  fi
  printf '\r%-150s' "$line"
  sleep 1
done
