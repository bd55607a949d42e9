#!/usr/bin/env bash
# Test hosts for the several-machines tests: network namespaces imgproc-hN,
# each with its own address 10.77.0.1N on a bridge imgproc-br0 (10.77.0.1),
# so MPI ranks and their Redis/RabbitMQ traffic really cross TCP links.
#
# usage: Tests/netns-hosts.sh up N | down N | cut I | mend I | kill I
#   cut/mend take host I's link down / up (a failing host, a flaky network);
#   kill ends every process in host I at once (a machine that dies).
set -euo pipefail
bridge=imgproc-br0
case "${1:-}" in
up)
    n=$2
    ip link add "$bridge" type bridge 2>/dev/null || true
    ip addr replace 10.77.0.1/24 dev "$bridge"
    ip link set "$bridge" up
    for i in $(seq "$n"); do
        ns="imgproc-h$i"
        ip netns add "$ns" 2>/dev/null || true
        ip link add "imgproc-v$i" type veth peer name eth0 netns "$ns" 2>/dev/null || true
        ip link set "imgproc-v$i" master "$bridge" up
        ip netns exec "$ns" ip addr replace "10.77.0.1$i/24" dev eth0
        ip netns exec "$ns" ip link set eth0 up
        ip netns exec "$ns" ip link set lo up
    done
    ;;
down)
    n=$2
    for i in $(seq "$n"); do
        ns="imgproc-h$i"
        # Processes left in a host (a world cut off from its supervisor) go with it.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip link del "imgproc-v$i" 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "$bridge" 2>/dev/null || true
    ;;
cut) ip link set "imgproc-v$2" down ;;
kill) for pid in $(ip netns pids "imgproc-h$2"); do kill -9 "$pid" 2>/dev/null || true; done ;;
mend) ip link set "imgproc-v$2" up ;;
*) echo "usage: $0 up N | down N | cut I | mend I | kill I" >&2; exit 2 ;;
esac
