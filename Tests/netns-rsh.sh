#!/bin/sh
# Open MPI's "rsh agent" for the test hosts of Tests/netns-hosts.sh:
#   netns-rsh.sh HOST COMMAND...  runs COMMAND inside the namespace that owns
# HOST's address (10.77.0.1N -> imgproc-hN), with its own host name.
host="$1"; shift
n="${host##10.77.0.1}"
exec ip netns exec "imgproc-h$n" unshare --uts /bin/sh -c "hostname host$n; $*"
