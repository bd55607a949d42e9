#!/usr/bin/env bash
# Runs a command with test services of its own: a redis-server (append-only
# file on) and a rabbitmq-server, each on free ports, then stops what it
# started, whatever the command's outcome. Exports REDIS_URL and AMQP_URL,
# and IMGPROC_TEST_REDIS_CLUSTER: a Redis Cluster of three masters on free
# ports, for the tests that run again against a cluster (make test).
#
# usage: Tests/with-services.sh COMMAND [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# A folder per run, so that two runs (make test and make load, say) do not share one.
state="$root/.build/test-services/$$"
mkdir -p "$state/redis" "$state/rabbitmq" "$state/cluster"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

redis_port="$(free_port)"
amqp_port="$(free_port)"
dist_port="$(free_port)"
node="imgproc-test-$$@localhost"
epmd_was_running=no
pgrep -x epmd >/dev/null 2>&1 && epmd_was_running=yes

stop_services() {
    if [ -f "$state/redis/redis.pid" ]; then kill "$(cat "$state/redis/redis.pid")" 2>/dev/null || true; fi
    for pidfile in "$state"/cluster/*/redis.pid; do [ -f "$pidfile" ] && { kill "$(cat "$pidfile")" 2>/dev/null || true; }; done
    if [ -f "$state/rabbitmq/rabbit.pid" ]; then
        rabbitmqctl -q -n "$node" stop >/dev/null 2>&1 || kill "$(cat "$state/rabbitmq/rabbit.pid")" 2>/dev/null || true
    fi
    # The Erlang port mapper starts with the first node; stop it if this script started it.
    if [ "$epmd_was_running" = no ]; then epmd -kill >/dev/null 2>&1 || true; fi
    rm -rf "$state"
}
trap stop_services EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" --appendonly yes --save "" --databases 64 \
    --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log" --daemonize yes
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_URL="redis://127.0.0.1:$redis_port/0"

# A Redis Cluster: three masters, no replicas, all 16384 slots assigned.
cluster_nodes=()
for _ in 1 2 3; do
    port="$(free_port)"
    mkdir -p "$state/cluster/$port"
    # The cluster bus port defaults to port + 10000, which may pass 65535: given its own.
    redis-server --port "$port" --bind 127.0.0.1 --dir "$state/cluster/$port" --cluster-enabled yes \
        --cluster-port "$(free_port)" --cluster-config-file nodes.conf --appendonly yes --save "" \
        --pidfile "$state/cluster/$port/redis.pid" --logfile "$state/cluster/$port/redis.log" --daemonize yes
    cluster_nodes+=("127.0.0.1:$port")
done
for node_address in "${cluster_nodes[@]}"; do
    for _ in $(seq 50); do redis-cli -p "${node_address##*:}" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create "${cluster_nodes[@]}" --cluster-replicas 0 --cluster-yes >"$state/cluster/create.log" 2>&1 \
    || { echo "could not create the Redis Cluster:"; cat "$state/cluster/create.log"; exit 1; }
for _ in $(seq 100); do
    redis-cli -p "${cluster_nodes[0]##*:}" cluster info 2>/dev/null | grep -q "cluster_state:ok" && break; sleep 0.1
done
IMGPROC_TEST_REDIS_CLUSTER="redis+cluster://$(IFS=,; echo "${cluster_nodes[*]}")/"
export IMGPROC_TEST_REDIS_CLUSTER

# RabbitMQ listens on loopback only (its inter-node port too); its files belong to the rabbitmq user.
cat > "$state/rabbitmq/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$amqp_port
CONF
echo "[]." > "$state/rabbitmq/enabled_plugins"
chown -R rabbitmq:rabbitmq "$state/rabbitmq" 2>/dev/null || true
export RABBITMQ_NODENAME="$node" RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_MNESIA_BASE="$state/rabbitmq/mnesia" \
    RABBITMQ_LOG_BASE="$state/rabbitmq/log" RABBITMQ_PID_FILE="$state/rabbitmq/rabbit.pid" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$state/rabbitmq/enabled_plugins" RABBITMQ_CONFIG_FILE="$state/rabbitmq/rabbitmq" \
    ERL_EPMD_ADDRESS=127.0.0.1
setsid rabbitmq-server > "$state/rabbitmq/server.out" 2>&1 < /dev/null &
for _ in $(seq 120); do rabbitmqctl -q -n "$node" await_startup >/dev/null 2>&1 && break; sleep 0.5; done
rabbitmqctl -q -n "$node" await_startup >/dev/null 2>&1 || { echo "rabbitmq-server did not start:"; tail -20 "$state/rabbitmq/server.out"; exit 1; }
export AMQP_URL="amqp://guest:guest@127.0.0.1:$amqp_port/"
export IMGPROC_TEST_RABBITMQ_NODE="$node"
echo "test services: Redis at $REDIS_URL, Redis Cluster at $IMGPROC_TEST_REDIS_CLUSTER, RabbitMQ at $AMQP_URL"

"$@"
