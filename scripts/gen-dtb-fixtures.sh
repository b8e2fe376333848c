#!/usr/bin/env bash
# Regenerates the device tree fixtures of crates/topology.
#
# fixtures/qemu/NAME.dtb     dumped by QEMU's pseries machine (dumpdtb), with the exact
#                            command line kept in NAME.cmd; tests assert the topology
#                            that command line configures.
# fixtures/qemu/NAME.dts     `dtc -O dts` text of the blob, for reading and diffing.
# fixtures/crafted/NAME.dts  hand-written trees for what a dumpdtb cannot show (it is
#                            taken before client-architecture-support, so it has no
#                            FORM2 and no ibm,dynamic-reconfiguration-memory); compiled
#                            here to NAME.dtb.
#
# Needs qemu-system-ppc64 (checked with QEMU 7.2) and dtc. CI does not run this: the
# outputs are committed.
set -euo pipefail
cd "$(dirname "$0")/../crates/topology/fixtures"

qemu=${QEMU:-qemu-system-ppc64}
command -v "$qemu" >/dev/null || { echo "need $qemu" >&2; exit 1; }
command -v dtc >/dev/null || { echo "need dtc" >&2; exit 1; }

dump() {
    local machine=pseries
    if [ "$1" = --machine ]; then
        machine=$2
        shift 2
    fi
    local name=$1
    shift
    # -nodefaults keeps the tree to what the topology needs (no VGA, USB, NIC).
    local args=(-M "$machine,dumpdtb=qemu/$name.dtb" -nographic -nodefaults "$@")
    printf '%s\n' "$qemu ${args[*]}" | sed "s|dumpdtb=qemu/|dumpdtb=|" >"qemu/$name.cmd"
    "$qemu" "${args[@]}" 2>&1 | grep -v -e "TCG doesn't support requested feature" -e "no BMC" || true
    test -s "qemu/$name.dtb"
    dtc -q -I dtb -O dts -o "qemu/$name.dts" "qemu/$name.dtb"
}

# 1 node, no -numa: 4 GiB, 2 CPUs.
dump one-node -m 4G -smp 2

# 2 nodes x 2 CPUs x 512 MiB (the command of shared/facts/qemu-pseries-guest-notes.md).
dump two-node -m 1G -smp 4 \
    -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
    -numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1

# 4 nodes, node 3 memoryless, with a distance matrix (FORM1 encodes 20/40/80).
dump four-node-memoryless -m 2G -smp 8 \
    -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=512M \
    -object memory-backend-ram,id=m2,size=512M \
    -numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1 \
    -numa node,nodeid=2,cpus=4-5,memdev=m2 -numa node,nodeid=3,cpus=6-7 \
    -numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=40 -numa dist,src=0,dst=3,val=80 \
    -numa dist,src=1,dst=2,val=40 -numa dist,src=1,dst=3,val=80 -numa dist,src=2,dst=3,val=80

# 2 nodes, node 1 has memory and no CPUs.
dump cpuless-node -m 1G -smp 2 \
    -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
    -numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,memdev=m1

# PowerNV host, 2 chips x 2 cores. This is the tree QEMU hands to skiboot (OPAL), which
# adds ibm,associativity and the reference points before Linux runs; read as is, Linux
# finds no reference points and runs without NUMA. It checks hypervisor mode, chip
# memory layout, and DT-order CPU numbering with the boot thread not first.
dump --machine powernv9 powernv9-two-chip -m 2G -smp 4,sockets=2,cores=2,threads=1

for src in crafted/*.dts; do
    dtc -q -I dts -O dtb -o "${src%.dts}.dtb" "$src"
done
echo "fixtures regenerated"
