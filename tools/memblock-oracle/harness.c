// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * numaboot memblock oracle: replays the `numaboot memblock replay` language on Linux
 * 6.1's own mm/memblock.c (linked in unchanged, see build.sh and shim/shim.h) and
 * prints exactly what `numaboot memblock replay -` prints for the same script.
 *
 * Usage: linux-memblock [--bench] < SCRIPT
 *
 * Exit status:
 *   0  the script ran; its output (with the implied final dump) is on stdout
 *   2  a malformed line: the output before it on stdout, `line N: what` on stderr
 *      (the same words numaboot uses)
 *   3  Linux stopped at a BUG_ON: `line N: BUG_ON(COND) in FUNC() at
 *      mm/memblock.c:LINE` on stderr, the output of the lines before N on stdout
 *   4  the script needs something this harness cannot do (`config initial_regions`
 *      above the 128 entries of Linux's static arrays, or no address space left for
 *      a region array); the reason on stderr
 *   1  reading standard input or writing standard output failed, or bad arguments
 *
 * With NUMABOOT_ORACLE_EVENTS set, stderr also gets one line per event Linux goes
 * through silently, for a differential test to tell apart the ways Linux and a model
 * may part:
 *   event line N: grew ARRAY FROM -> TO           a region array doubled
 *   event line N: alias ARRAY at 0xADDR over OTHER  memblock_double_array copied
 *                                                 ARRAY onto the live OTHER array
 * NUMABOOT_ORACLE_VERBOSE routes memblock.c's own printk output to stderr.
 *
 * `linux-memblock --bench` (or NUMABOOT_ORACLE_BENCH set) also times every memblock.c
 * call the script makes, and only those (not parsing, not printing), and reports on
 * stderr at the end, one line per kind of call (calls, nanoseconds):
 *   bench alloc N NS     alloc and alloc_try_nid
 *   bench free N NS      free
 *   bench other N NS     add, reserve, remove, set_node and the flag operations
 *                        (limit, bottom_up and movable set a variable: not timed)
 * The cost of reading the clock is measured first and subtracted from each call, so
 * that the figure is memblock.c's alone. Output and exit status are as without it.
 *
 * The parser mirrors crates/memblock/src/replay.rs rule for rule (argument order of
 * the checks, number syntax, Unicode whitespace, UTF-8 validation), so that malformed
 * scripts fail on the same line with the same message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include <linux/memblock.h>

_Static_assert(sizeof(struct memblock_region) == 24,
	       "memblock_region must be the 24 bytes of a 64-bit NUMA kernel");
_Static_assert(MAX_NUMNODES == 256, "ppc64 MAX_NUMNODES");

/* ------------------------------------------------------------ the shim's state */

unsigned long shim_page_size = 0x10000;
unsigned long shim_smp_cache_bytes = 128;
bool movable_node_enabled;
bool mirrored_kernelcore;
struct page *shim_mem_map;

/* 1-based number of the script line being executed, for BUG_ON reports. */
static unsigned long current_line;
static bool verbose;
static bool events;

/* ------------------------------------------------------------ --bench timing */

enum bench_kind { BENCH_ALLOC, BENCH_FREE, BENCH_OTHER, BENCH_KINDS };

static bool bench;
static const char *const bench_names[BENCH_KINDS] = { "alloc", "free", "other" };
static u64 bench_calls[BENCH_KINDS];
static u64 bench_ns[BENCH_KINDS];
/* What one clock_gettime pair costs, subtracted from every timed call. */
static u64 bench_overhead_ns;

static u64 now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (u64)t.tv_sec * 1000000000ULL + (u64)t.tv_nsec;
}

static void bench_calibrate(void)
{
	u64 start = now_ns(), end;
	int i;

	for (i = 0; i < 100000; i++)
		now_ns();
	end = now_ns();
	/* Each timed call reads the clock twice. */
	bench_overhead_ns = (end - start) / 100000;
}

static void bench_add(enum bench_kind kind, u64 start)
{
	u64 d = now_ns() - start;

	bench_calls[kind]++;
	bench_ns[kind] += d > bench_overhead_ns ? d - bench_overhead_ns : 0;
}

/*
 * Evaluates CALL (a memblock.c call) into RESULT, timed under --bench. A statement
 * macro: the timing brackets exactly the call.
 */
#define TIMED(kind, result, call)                                  \
	do {                                                       \
		if (bench) {                                       \
			u64 timed_start_ = now_ns();               \
			(result) = (call);                         \
			bench_add((kind), timed_start_);           \
		} else {                                           \
			(result) = (call);                         \
		}                                                  \
	} while (0)

static void bench_report(void)
{
	int k;

	if (!bench)
		return;
	for (k = 0; k < BENCH_KINDS; k++)
		fprintf(stderr, "bench %s %llu %llu\n", bench_names[k],
			(unsigned long long)bench_calls[k], (unsigned long long)bench_ns[k]);
}

static void __attribute__((__format__(__printf__, 1, 2))) event(const char *fmt, ...)
{
	va_list ap;

	if (!events)
		return;
	fprintf(stderr, "event line %lu: ", current_line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void shim_log(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void shim_bug(const char *func, int line, const char *cond)
{
	fflush(stdout);
	fprintf(stderr, "line %lu: BUG_ON(%s) in %s() at mm/memblock.c:%d\n", current_line,
		cond, func, line);
	exit(3);
}

static void __attribute__((__noreturn__)) harness_limit(const char *why)
{
	fflush(stdout);
	fprintf(stderr, "line %lu: beyond the oracle: %s\n", current_line, why);
	exit(4);
}

/*
 * Sparse physical memory for the region arrays. Each GiB of physical address space
 * that holds an array gets its own anonymous MAP_NORESERVE window, twice as long so
 * that an array starting near the end of its GiB still lies in one window; only the
 * pages an array touches are ever populated. Two arrays at the same physical address
 * share the same bytes, as they would in Linux (issue 13's aliasing case depends on
 * it).
 */
#define WINDOW_SHIFT 30
#define WINDOW_LEN (2ULL << WINDOW_SHIFT)
#define MAX_WINDOWS 4096

struct window {
	u64 key;
	char *base;
};

static struct window windows[MAX_WINDOWS];
static size_t nr_windows;

void *shim_va(phys_addr_t phys)
{
	u64 key = phys >> WINDOW_SHIFT;
	size_t i;
	void *m;

	for (i = 0; i < nr_windows; i++)
		if (windows[i].key == key)
			return windows[i].base + (phys - (key << WINDOW_SHIFT));
	if (nr_windows == MAX_WINDOWS)
		harness_limit("more than 4096 GiB-windows of region arrays");
	m = mmap(NULL, WINDOW_LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		harness_limit("mmap of a region-array window failed");
	windows[nr_windows].key = key;
	windows[nr_windows].base = m;
	nr_windows++;
	return (char *)m + (phys - (key << WINDOW_SHIFT));
}

/* The physical address of a pointer into a window, if it is one. */
static bool window_pa(const void *virt, phys_addr_t *phys)
{
	const char *p = virt;
	size_t i;

	for (i = 0; i < nr_windows; i++) {
		if (p >= windows[i].base && p < windows[i].base + WINDOW_LEN) {
			*phys = (windows[i].key << WINDOW_SHIFT) + (u64)(p - windows[i].base);
			return true;
		}
	}
	return false;
}

void *shim_memcpy(void *dst, const void *src, size_t n)
{
	const struct memblock_type *grow = NULL, *other = NULL;
	phys_addr_t to, at;

	if (src == memblock.memory.regions)
		grow = &memblock.memory, other = &memblock.reserved;
	else if (src == memblock.reserved.regions)
		grow = &memblock.reserved, other = &memblock.memory;
	/*
	 * The new array gets the copy and as much again of zeroes (2 * n bytes); the other
	 * array owns max entries from where it lives.
	 */
	if (grow && window_pa(dst, &to) && window_pa(other->regions, &at) &&
	    to < at + other->max * sizeof(struct memblock_region) && at < to + 2 * n)
		event("alias %s at 0x%llx over %s", grow->name, to, other->name);
	return memmove(dst, src, n);
}

phys_addr_t shim_pa(const volatile void *virt)
{
	phys_addr_t phys;

	/* memblock.c only converts back pointers that __va() made. */
	if (!window_pa((const void *)virt, &phys))
		harness_limit("__pa() of a pointer __va() did not make");
	return phys;
}

/* Allocation results are never dereferenced (the _raw allocators do not zero). */
void *shim_phys_to_virt(phys_addr_t phys)
{
	return (void *)(uintptr_t)phys;
}

/* ------------------------------------------------------------ output */

static void put_hex(u64 v)
{
	char buf[2 + 16];
	int n = sizeof(buf);

	do {
		buf[--n] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	buf[--n] = 'x';
	buf[--n] = '0';
	fwrite(buf + n, 1, sizeof(buf) - n, stdout);
}

static void dump_type(const char *name, const struct memblock_type *type)
{
	unsigned long i;

	fputs(name, stdout);
	fputs(":\n", stdout);
	/* An empty array is Linux's one zero-sized dummy entry: no region. */
	if (!(type->cnt == 1 && type->regions[0].size == 0)) {
		for (i = 0; i < type->cnt; i++) {
			const struct memblock_region *r = &type->regions[i];

			put_hex(r->base);
			putchar(' ');
			put_hex(r->size);
			putchar(' ');
			put_hex((u32)r->flags);
			putchar(' ');
			put_hex((u32)r->nid);
			putchar('\n');
		}
	}
	fputs("total ", stdout);
	put_hex(type->total_size);
	putchar('\n');
}

static void dump(void)
{
	dump_type("memory", &memblock.memory);
	dump_type("reserved", &memblock.reserved);
}

static void op_result(const char *name, int ret)
{
	if (ret) {
		fputs(name, stdout);
		fputs(" -> fail\n", stdout);
	}
}

static void alloc_result(phys_addr_t found)
{
	if (found) {
		fputs("alloc -> ", stdout);
		put_hex(found);
		putchar('\n');
	} else {
		fputs("alloc -> fail\n", stdout);
	}
}

/* ------------------------------------------------------------ parsing */

/* A malformed line: stop as numaboot does. */
static void __attribute__((__noreturn__, __format__(__printf__, 1, 2)))
malformed(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "line %lu: ", current_line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

struct word {
	const char *p;
	size_t len;
};

static bool word_is(struct word w, const char *s)
{
	return strlen(s) == w.len && memcmp(w.p, s, w.len) == 0;
}

static void bad(const char *what, struct word w, const char *why)
{
	malformed("bad %s `%.*s`: %s", what, (int)w.len, w.p, why);
}

static u64 num(const char *what, struct word w)
{
	const char *s = w.p, *end = w.p + w.len;
	unsigned radix = 10;
	bool seen = false;
	u64 v = 0;

	if (w.len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		radix = 16;
		s += 2;
	}
	for (; s < end; s++) {
		unsigned d;
		char c = *s;

		if (c == '_' && seen)
			continue;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (radix == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (radix == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			bad(what, w, "not a decimal or 0x-hex number");
		seen = true;
		if (v > (U64_MAX - d) / radix)
			bad(what, w, "does not fit in 64 bits");
		v = v * radix + d;
	}
	if (!seen)
		bad(what, w, "empty number");
	return v;
}

static bool flag(const char *what, struct word w)
{
	if (word_is(w, "0"))
		return false;
	if (word_is(w, "1"))
		return true;
	bad(what, w, "must be 0 or 1");
	return false;
}

/* A node id for set_node: 0..=255. */
static int node(struct word w)
{
	u64 n = num("node id", w);

	if (n >= MAX_NUMNODES)
		bad("node id", w, "must be below MAX_NUMNODES (256)");
	return (int)n;
}

/* A node id where none is allowed: 0..=255, -1 (NUMA_NO_NODE), 256 (MAX_NUMNODES). */
static int opt_node(struct word w)
{
	u64 n;

	if (word_is(w, "-1"))
		return NUMA_NO_NODE;
	n = num("node id", w);
	if (n > MAX_NUMNODES)
		bad("node id", w, "must be 0..=255, -1 or 256");
	return (int)n;
}

static phys_addr_t limit(const char *what, struct word w)
{
	if (word_is(w, "accessible"))
		return MEMBLOCK_ALLOC_ACCESSIBLE;
	if (word_is(w, "anywhere"))
		return MEMBLOCK_ALLOC_ANYWHERE;
	return num(what, w);
}

/*
 * Unicode White_Space (what Rust's split_whitespace splits at), given the code point
 * of one UTF-8 sequence.
 */
static bool is_space(u32 c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
	       c == 0x202f || c == 0x205f || c == 0x3000;
}

/*
 * Decodes the UTF-8 sequence at s (before end) into *cp; its length, or 0 if it is
 * not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
 */
static size_t utf8(const unsigned char *s, const unsigned char *end, u32 *cp)
{
	size_t n, i;
	u32 c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - s) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

enum { MAX_ARGS = 6 };

struct line {
	struct word op;
	struct word arg[MAX_ARGS];
	size_t n;
};

/* The usage text of each operation, as numaboot prints it. */
static const char *const usages[][2] = {
	{ "add", "BASE SIZE [NID]" },
	{ "reserve", "BASE SIZE" },
	{ "remove", "BASE SIZE" },
	{ "free", "BASE SIZE" },
	{ "hotplug", "BASE SIZE" },
	{ "clear_hotplug", "BASE SIZE" },
	{ "nomap", "BASE SIZE" },
	{ "clear_nomap", "BASE SIZE" },
	{ "set_node", "BASE SIZE NID" },
	{ "limit", "ADDR" },
	{ "bottom_up", "0|1" },
	{ "movable", "0|1" },
	{ "alloc", "SIZE ALIGN START END NID EXACT" },
	{ "alloc_try_nid", "SIZE ALIGN MIN MAX NID" },
	{ "dump", "(no arguments)" },
	{ "config", "KEY VALUE" },
};

static void __attribute__((__noreturn__)) arity(struct word op)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(usages); i++)
		if (word_is(op, usages[i][0]))
			malformed("`%s` takes: %s %s", usages[i][0], usages[i][0], usages[i][1]);
	malformed("unknown operation `%.*s`", (int)op.len, op.p);
}

/* Splits a line into words; false for a blank or comment-only line. */
static bool split(const char *s, size_t len, struct line *l)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	const unsigned char *hash = memchr(p, '#', len);
	bool have_op = false;

	if (hash)
		end = hash;
	l->n = 0;
	while (p < end) {
		const unsigned char *start;
		u32 c = 0;
		size_t k = utf8(p, end, &c);

		if (k && is_space(c)) {
			p += k;
			continue;
		}
		start = p;
		while (p < end) {
			k = utf8(p, end, &c);
			if (k && is_space(c))
				break;
			p += k ? k : 1;
		}
		if (!have_op) {
			l->op.p = (const char *)start;
			l->op.len = (size_t)(p - start);
			have_op = true;
		} else if (l->n == MAX_ARGS) {
			arity(l->op);
		} else {
			l->arg[l->n].p = (const char *)start;
			l->arg[l->n].len = (size_t)(p - start);
			l->n++;
		}
	}
	return have_op;
}

static void want(const struct line *l, size_t a, size_t b)
{
	if (l->n != a && l->n != b)
		arity(l->op);
}

/* ------------------------------------------------------------ execution */

struct config {
	u64 page_size;
	u64 initial_regions;
	u64 smp_cache_bytes;
	bool allow_resize;
};

static struct config config = { 0x10000, 128, 128, true };
static bool started;
/* The capacities after the previous line (memory, reserved), for growth events. */
static unsigned long seen_max[2];

static void note_growth(const struct memblock_type *type, unsigned long *seen)
{
	if (started && type->max != *seen)
		event("grew %s %lu -> %lu", type->name, *seen, type->max);
	*seen = type->max;
}

static u64 next_power_of_two(u64 v)
{
	u64 p = 1;

	if (v > (1ULL << 63))
		return 1ULL << 63;
	while (p < v)
		p <<= 1;
	return p;
}

/*
 * The first operation (or the end of a script of config lines only) fixes the
 * configuration, corrected as memblock::Config is, before memblock sees a call.
 */
static void start(void)
{
	u64 regions = config.initial_regions ? config.initial_regions : 1;

	if (started)
		return;
	started = true;
	/* Untouched until now, .max is the size of Linux's static arrays (128). */
	if (regions > memblock.memory.max || regions > memblock.reserved.max)
		harness_limit("config initial_regions above the entries of Linux's static arrays");
	/*
	 * Linux sizes its static arrays at build time; a smaller initial capacity is the
	 * same arrays with a smaller .max, which is all memblock.c reads.
	 */
	memblock.memory.max = regions;
	memblock.reserved.max = regions;
	seen_max[0] = seen_max[1] = regions;
	shim_page_size = next_power_of_two(config.page_size);
	shim_smp_cache_bytes = config.smp_cache_bytes ? config.smp_cache_bytes : 1;
	if (config.allow_resize)
		memblock_allow_resize();
}

static void execute(const struct line *l)
{
	const struct word *a = l->arg;
	struct word op = l->op;

	if (word_is(op, "config")) {
		want(l, 2, 2);
		if (word_is(a[0], "page_size"))
			config.page_size = num("config value", a[1]);
		else if (word_is(a[0], "initial_regions"))
			config.initial_regions = num("config value", a[1]);
		else if (word_is(a[0], "smp_cache_bytes"))
			config.smp_cache_bytes = num("config value", a[1]);
		else if (word_is(a[0], "allow_resize"))
			config.allow_resize = flag("allow_resize", a[1]);
		else
			bad("config key", a[0],
			    "must be page_size, initial_regions, smp_cache_bytes or allow_resize");
		if (started)
			malformed("`config` must come before every other operation");
		return;
	}

	if (word_is(op, "add")) {
		int nid = MAX_NUMNODES, ret;
		phys_addr_t base, size;

		want(l, 2, 3);
		if (l->n == 3)
			nid = opt_node(a[2]);
		base = num("base", a[0]);
		size = num("size", a[1]);
		start();
		if (l->n == 3)
			TIMED(BENCH_OTHER, ret, memblock_add_node(base, size, nid, MEMBLOCK_NONE));
		else
			TIMED(BENCH_OTHER, ret, memblock_add(base, size));
		op_result("add", ret);
		return;
	}

	static const struct {
		const char *name;
		int (*fn)(phys_addr_t, phys_addr_t);
	} ranges[] = {
		{ "reserve", memblock_reserve },
		{ "remove", memblock_remove },
		{ "free", memblock_phys_free },
		{ "hotplug", memblock_mark_hotplug },
		{ "clear_hotplug", memblock_clear_hotplug },
		{ "nomap", memblock_mark_nomap },
		{ "clear_nomap", memblock_clear_nomap },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
		if (word_is(op, ranges[i].name)) {
			phys_addr_t base, size;
			int ret;

			want(l, 2, 2);
			base = num("base", a[0]);
			size = num("size", a[1]);
			start();
			TIMED(ranges[i].fn == memblock_phys_free ? BENCH_FREE : BENCH_OTHER, ret,
			      ranges[i].fn(base, size));
			op_result(ranges[i].name, ret);
			return;
		}
	}

	if (word_is(op, "set_node")) {
		phys_addr_t base, size;
		int nid, ret;

		want(l, 3, 3);
		base = num("base", a[0]);
		size = num("size", a[1]);
		nid = node(a[2]);
		start();
		TIMED(BENCH_OTHER, ret, memblock_set_node(base, size, &memblock.memory, nid));
		op_result("set_node", ret);
	} else if (word_is(op, "limit")) {
		phys_addr_t lim;

		want(l, 1, 1);
		lim = num("limit", a[0]);
		start();
		memblock_set_current_limit(lim);
	} else if (word_is(op, "bottom_up")) {
		bool on;

		want(l, 1, 1);
		on = flag("bottom_up", a[0]);
		start();
		memblock_set_bottom_up(on);
	} else if (word_is(op, "movable")) {
		bool on;

		want(l, 1, 1);
		on = flag("movable", a[0]);
		start();
		movable_node_enabled = on;
	} else if (word_is(op, "alloc")) {
		phys_addr_t size, align, lo, hi, found;
		int nid;
		bool exact;

		want(l, 6, 6);
		size = num("size", a[0]);
		align = num("align", a[1]);
		lo = num("start", a[2]);
		hi = limit("end", a[3]);
		nid = opt_node(a[4]);
		exact = flag("exact", a[5]);
		start();
		TIMED(BENCH_ALLOC, found, memblock_alloc_range_nid(size, align, lo, hi, nid, exact));
		alloc_result(found);
	} else if (word_is(op, "alloc_try_nid")) {
		phys_addr_t size, align, lo, hi;
		void *p;
		int nid;

		want(l, 5, 5);
		size = num("size", a[0]);
		align = num("align", a[1]);
		lo = num("min", a[2]);
		hi = limit("max", a[3]);
		nid = opt_node(a[4]);
		start();
		TIMED(BENCH_ALLOC, p, memblock_alloc_try_nid_raw(size, align, lo, hi, nid));
		alloc_result((phys_addr_t)(uintptr_t)p);
	} else if (word_is(op, "dump")) {
		want(l, 0, 0);
		start();
		dump();
	} else {
		malformed("unknown operation `%.*s`", (int)op.len, op.p);
	}
}

static char *read_all(size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	for (;;) {
		size_t got;

		if (n == cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
		got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (got == 0) {
			if (ferror(stdin)) {
				free(buf);
				return NULL;
			}
			break;
		}
	}
	*len = n;
	return buf;
}

static bool valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	u32 c;

	while (p < end) {
		size_t k = utf8(p, end, &c);

		if (!k)
			return false;
		p += k;
	}
	return true;
}

int main(int argc, char **argv)
{
	static char outbuf[1 << 20];
	size_t len, pos = 0;
	char *script;

	verbose = getenv("NUMABOOT_ORACLE_VERBOSE") != NULL;
	events = getenv("NUMABOOT_ORACLE_EVENTS") != NULL;
	bench = getenv("NUMABOOT_ORACLE_BENCH") != NULL;
	if (argc == 2 && strcmp(argv[1], "--bench") == 0) {
		bench = true;
	} else if (argc > 1) {
		fprintf(stderr, "usage: linux-memblock [--bench] < SCRIPT\n");
		return 1;
	}
	if (bench)
		bench_calibrate();
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	script = read_all(&len);
	if (!script) {
		fprintf(stderr, "linux-memblock: reading standard input: %s\n", strerror(errno));
		return 1;
	}
	/*
	 * As numaboot's run_bytes: lines end at '\n' (one final '\n' does not start another
	 * line), a '\r' before it is dropped, and an empty script has no line at all.
	 */
	if (len) {
		if (script[len - 1] == '\n')
			len--;
		for (;;) {
			const char *eol = memchr(script + pos, '\n', len - pos);
			size_t end = eol ? (size_t)(eol - script) : len;
			size_t l = end - pos;
			struct line line;

			current_line++;
			if (l && script[pos + l - 1] == '\r')
				l--;
			if (!valid_utf8(script + pos, l))
				malformed("not UTF-8");
			if (split(script + pos, l, &line)) {
				execute(&line);
				note_growth(&memblock.memory, &seen_max[0]);
				note_growth(&memblock.reserved, &seen_max[1]);
			}
			if (!eol)
				break;
			pos = end + 1;
		}
	}
	start();
	dump();
	free(script);
	bench_report();
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "linux-memblock: writing standard output failed\n");
		return 1;
	}
	return 0;
}
