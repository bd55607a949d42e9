#!/usr/bin/env bash
# Runs a command with test services of its own: a redis-server on a free
# port (append-only file on), then stops them by their pids, whatever the
# command's outcome. Exports REDIS_URL for the command.
#
# usage: Tests/with-services.sh COMMAND [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.build/test-services"
rm -rf "$state"
mkdir -p "$state/redis"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

redis_port="$(free_port)"
stop_services() {
    if [ -f "$state/redis/redis.pid" ]; then kill "$(cat "$state/redis/redis.pid")" 2>/dev/null || true; fi
}
trap stop_services EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" --appendonly yes --save "" --databases 64 \
    --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log" --daemonize yes
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
echo "test services: Redis at $REDIS_URL"

"$@"
