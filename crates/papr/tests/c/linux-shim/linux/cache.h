/* ____cacheline_aligned as <linux/cache.h> defines it: aligned to SMP_CACHE_BYTES,
 * which the kernel's own arch/powerpc/include/asm/cache.h sets (128 on PPC64). That
 * header uses u32 without including anything, hence asm/types.h first. */
#ifndef NUMABOOT_SHIM_LINUX_CACHE_H
#define NUMABOOT_SHIM_LINUX_CACHE_H
#include <asm/types.h>
#include <asm/cache.h>
#ifndef SMP_CACHE_BYTES
#error "arch/powerpc/include/asm/cache.h did not define SMP_CACHE_BYTES"
#endif
#define ____cacheline_aligned __attribute__((__aligned__(SMP_CACHE_BYTES)))
#endif
