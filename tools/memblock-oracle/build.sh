#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Builds the memblock oracle: Linux 6.1's own mm/memblock.c, unchanged, compiled in
# userspace against shim/ and driven by harness.c, which speaks numaboot's memblock
# replay language. No Linux file is kept in this repository: the two it needs are
# taken from the Linux source at build time.
#
#   tools/memblock-oracle/build.sh [OUT_DIR]      (default: target/memblock-oracle)
#
# Linux source, first match wins:
#   LINUX_SRC=DIR       a tree holding mm/memblock.c and include/linux/memblock.h
#   LINUX_TARBALL=FILE  Debian's tarball (default /usr/src/linux-source-6.1.tar.xz,
#                       from `apt-get install linux-source-6.1`); only those two files
#                       are extracted, once per OUT_DIR
# Other knobs: CC (default gcc), SANITIZE=1 (AddressSanitizer + UBSan build).
#
# Prints the path of the binary, OUT_DIR/linux-memblock; point the differential test
# at it with NUMABOOT_LINUX_MEMBLOCK=that-path.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/target/memblock-oracle}
cc=${CC:-gcc}
src=$out/linux
mkdir -p "$src/mm" "$src/include/linux"

if [ -n "${LINUX_SRC:-}" ]; then
	cp "$LINUX_SRC/mm/memblock.c" "$src/mm/memblock.c"
	cp "$LINUX_SRC/include/linux/memblock.h" "$src/include/linux/memblock.h"
elif [ ! -f "$src/mm/memblock.c" ] || [ ! -f "$src/include/linux/memblock.h" ]; then
	tarball=${LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
	if [ ! -f "$tarball" ]; then
		echo "build.sh: no Linux source: $tarball is missing (apt-get install linux-source-6.1, or set LINUX_SRC)" >&2
		exit 1
	fi
	tar -xJf "$tarball" -C "$src" --strip-components=1 \
		linux-source-6.1/mm/memblock.c linux-source-6.1/include/linux/memblock.h
fi

flags="-std=gnu11 -O2 -g -fno-strict-aliasing -I$here/shim -I$src/include"
if [ "${SANITIZE:-0}" = 1 ]; then
	flags="$flags -fsanitize=address,undefined -fno-omit-frame-pointer"
fi
# memblock.c is compiled as the kernel would compile it; warnings about userspace
# printf formats (%pa and friends go to a silent logger) are not ours to fix, nor
# are unused parameters of Linux's inline stubs in the harness build.
# shellcheck disable=SC2086
$cc $flags -w -c "$src/mm/memblock.c" -o "$out/memblock.o"
# shellcheck disable=SC2086
$cc $flags -Wall -Wextra -Wno-unused-parameter -Werror -c "$here/harness.c" -o "$out/harness.o"
# shellcheck disable=SC2086
$cc $flags "$out/memblock.o" "$out/harness.o" -o "$out/linux-memblock"
echo "$out/linux-memblock"
