/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * numaboot memblock oracle: the userspace environment Linux 6.1's mm/memblock.c is
 * compiled in (the approach of Linux's tools/testing/memblock: the kernel file itself,
 * unchanged, against small stand-in headers).
 *
 * Every kernel header memblock.c and include/linux/memblock.h pull in resolves to a
 * one-line file under shim/ that includes this one. Only what memblock.c needs to
 * compile is defined; only what the replayed operations reach has behaviour:
 *
 *  - configuration: ppc64 (64-bit phys_addr_t), NUMA with MAX_NUMNODES 256
 *    (CONFIG_NODES_SHIFT 8), CONFIG_ARCH_KEEP_MEMBLOCK as on powerpc; PAGE_SIZE and
 *    SMP_CACHE_BYTES are variables (64 KiB and 128 by default) so that a replay's
 *    `config` lines can change them, as the Rust crate's Config does;
 *  - __va(): a lazily mapped sparse window per GiB of physical address space, so the
 *    region arrays memblock_double_array places at terabyte addresses are real
 *    memory; phys_to_virt() of an allocation result (never dereferenced: the harness
 *    uses the _raw allocators) is the identity, and __pa() inverts both;
 *  - BUG_ON(): reports the function, condition and source line, then ends the
 *    process with status 3 (Linux would panic);
 *  - memcpy(): also reports a region array copied onto the other one (an event);
 *  - the slab allocator never available (early boot), kmemleak and printk silent.
 */
#ifndef NUMABOOT_MEMBLOCK_SHIM_H
#define NUMABOOT_MEMBLOCK_SHIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ configuration */
#define CONFIG_64BIT 1
#define CONFIG_PHYS_ADDR_T_64BIT 1
#define CONFIG_NUMA 1
#define CONFIG_NODES_SHIFT 8
#define CONFIG_ARCH_KEEP_MEMBLOCK 1
/*
 * Left out although the Debian ppc64le config has them: CONFIG_DEBUG_FS (a debugfs
 * file), CONFIG_DEFERRED_STRUCT_PAGE_INIT (an iterator for deferred struct page
 * init) and CONFIG_SPARSEMEM (memmap freeing). None of them changes the functions
 * a replay calls.
 */
#define IS_ENABLED(option) (defined_or_zero_##option)
#define defined_or_zero_CONFIG_HAVE_ARCH_PFN_VALID 0
#define defined_or_zero_CONFIG_SPARSEMEM_VMEMMAP 1
#define defined_or_zero_CONFIG_64BIT 1

/* ------------------------------------------------------------------ types */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef int32_t s32;
typedef long long s64;
typedef u64 phys_addr_t;
typedef unsigned int gfp_t;
typedef struct {
	long counter;
} atomic_long_t;

#define U64_MAX ((u64)~0ULL)
#define PHYS_ADDR_MAX (~(phys_addr_t)0)

/* ------------------------------------------------------------------ compiler */
#define __init
#define __initdata
#define __initconst
#define __meminit
#define __meminitdata
#define __refdata
#define __ref
#ifndef __always_inline /* glibc has one */
#define __always_inline inline __attribute__((__always_inline__))
#endif
#define __maybe_unused __attribute__((__unused__))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define _RET_IP_ ((unsigned long)__builtin_return_address(0))
#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)
/* Keeps the handler referenced (no unused-function warning) without a section. */
#define early_param(str, fn) \
	static int (*const shim_early_param_##fn)(char *) __maybe_unused = fn

/* ------------------------------------------------------------------ arithmetic */
#define min(a, b) ({ __typeof__(a) shim_a_ = (a); __typeof__(b) shim_b_ = (b); \
		     shim_a_ < shim_b_ ? shim_a_ : shim_b_; })
#define max(a, b) ({ __typeof__(a) shim_a_ = (a); __typeof__(b) shim_b_ = (b); \
		     shim_a_ > shim_b_ ? shim_a_ : shim_b_; })
#define min_t(type, a, b) min((type)(a), (type)(b))
#define max_t(type, a, b) max((type)(a), (type)(b))
/* Linux's clamp: raise to lo first, then cap at hi. */
#define clamp(val, lo, hi) min((__typeof__(val))max(val, lo), hi)
/* The mask forms Linux uses, in the type of the value being rounded. */
#define shim_mask(x, y) ((__typeof__(x))((y) - 1))
#define round_up(x, y) ((((x) - 1) | shim_mask(x, y)) + 1)
#define round_down(x, y) ((x) & ~shim_mask(x, y))
#define ALIGN(x, a) (((x) + shim_mask(x, a)) & ~shim_mask(x, a))
#define ALIGN_DOWN(x, a) ((x) & ~shim_mask(x, a))
#define IS_ALIGNED(x, a) (((x) & shim_mask(x, a)) == 0)
#define BIT(n) (1UL << (n))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
static inline unsigned long __ffs(unsigned long word)
{
	return (unsigned long)__builtin_ctzl(word);
}

/* ------------------------------------------------------------------ ppc64 memory */
/* Variables, not constants: a replay's `config page_size` / `smp_cache_bytes`. */
extern unsigned long shim_page_size;
extern unsigned long shim_smp_cache_bytes;
#define PAGE_SHIFT 16
#define PAGE_SIZE (shim_page_size)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(addr) ALIGN(addr, PAGE_SIZE)
#define SMP_CACHE_BYTES (shim_smp_cache_bytes)
#define PFN_UP(x) (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_DOWN(x) ((x) >> PAGE_SHIFT)
#define PFN_PHYS(x) ((phys_addr_t)(x) << PAGE_SHIFT)
#define PAGES_PER_SECTION (1UL << (24 - PAGE_SHIFT))

void *shim_phys_to_virt(phys_addr_t phys);
void *shim_va(phys_addr_t phys);
phys_addr_t shim_pa(const volatile void *virt);
#define __va(x) shim_va((phys_addr_t)(x))
#define __pa(x) shim_pa(x)
#define phys_to_virt(x) shim_phys_to_virt((phys_addr_t)(x))
#define virt_to_phys(x) shim_pa(x)

/* ------------------------------------------------------------------ NUMA */
#define NODES_SHIFT CONFIG_NODES_SHIFT
#define MAX_NUMNODES (1 << NODES_SHIFT)
#define NUMA_NO_NODE (-1)

/* ------------------------------------------------------------------ diagnostics */
void shim_log(const char *fmt, ...);
void shim_bug(const char *func, int line, const char *cond) __attribute__((__noreturn__));
#define printk shim_log
#define pr_info shim_log
#define pr_debug shim_log
#define pr_cont shim_log
#define pr_err shim_log
#define pr_warn shim_log
#define pr_warn_ratelimited shim_log
#define BUG_ON(cond) do { if (cond) shim_bug(__func__, __LINE__, #cond); } while (0)
#define WARN_ON(cond) ({ int shim_w_ = !!(cond); shim_w_; })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define WARN_ONCE(cond, ...) WARN_ON(cond)
static inline void dump_stack(void) {}

/*
 * memblock.c copies with memcpy() only in memblock_double_array (the old array into
 * the new one); the harness checks there whether the copy lands on the other region
 * array, and reports it as an event (see harness.c), then copies.
 */
void *shim_memcpy(void *dst, const void *src, size_t n);
#undef memcpy
#define memcpy(dst, src, n) shim_memcpy(dst, src, n)

/* ------------------------------------------------------------------ errno */
#define ENOMEM 12
#define EINVAL 22

/* ------------------------------------------------------------------ mm */
struct page {
	unsigned long flags;
};
#define MAX_ORDER 11
#define pageblock_order (MAX_ORDER - 1)
#define pageblock_nr_pages BIT(pageblock_order)
#define pageblock_align(pfn) ALIGN((pfn), pageblock_nr_pages)
#define pageblock_start_pfn(pfn) ALIGN_DOWN((pfn), pageblock_nr_pages)
extern struct page *shim_mem_map;
#define pfn_to_page(pfn) (shim_mem_map + (pfn))
struct zone {
	atomic_long_t managed_pages;
};
#define MAX_NR_ZONES 1
typedef struct pglist_data {
	struct zone node_zones[MAX_NR_ZONES];
} pg_data_t;
/* No page allocator yet: there are no online nodes to walk. */
#define for_each_online_pgdat(pgdat) for ((pgdat) = NULL; (pgdat); (pgdat) = NULL)
static inline void atomic_long_set(atomic_long_t *v, long i) { v->counter = i; }
static inline void totalram_pages_inc(void) {}
static inline void totalram_pages_add(long count) { (void)count; }
static inline void reserve_bootmem_region(phys_addr_t start, phys_addr_t end)
{
	(void)start;
	(void)end;
}
static inline void memblock_free_pages(struct page *page, unsigned long pfn,
				       unsigned int order)
{
	(void)page;
	(void)pfn;
	(void)order;
}
/* The movable_node kernel parameter; a replay's `movable 0|1`. */
extern bool movable_node_enabled;
static inline bool movable_node_is_enabled(void)
{
	return movable_node_enabled;
}
extern bool mirrored_kernelcore;

/* ------------------------------------------------------------------ slab: not up */
#define GFP_KERNEL 0u
#define GFP_NOWAIT 0u
static inline bool slab_is_available(void) { return false; }
static inline void *kmalloc(size_t size, gfp_t flags)
{
	(void)size;
	(void)flags;
	return NULL;
}
static inline void *kzalloc_node(size_t size, gfp_t flags, int node)
{
	(void)size;
	(void)flags;
	(void)node;
	return NULL;
}
static inline void kfree(const void *p) { (void)p; }

/* ------------------------------------------------------------------ kmemleak: off */
static inline void kmemleak_alloc_phys(phys_addr_t phys, size_t size, gfp_t gfp)
{
	(void)phys;
	(void)size;
	(void)gfp;
}
static inline void kmemleak_free_part_phys(phys_addr_t phys, size_t size)
{
	(void)phys;
	(void)size;
}

#endif
