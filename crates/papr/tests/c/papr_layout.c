/*
 * The three PAPR structures as C sees them, printed for tests/c_layout.rs.
 *
 * Built twice. Without NUMABOOT_LINUX_HEADERS it uses the independent declaration
 * below, written from the published layout (field names, C types and order of Linux
 * 6.1's lppaca.h and dtl.h) with fixed-width stdint types; byte order does not change
 * a layout, so the big-endian annotations of the kernel are plain unsigned types here.
 * With NUMABOOT_LINUX_HEADERS it includes the kernel's own asm/lppaca.h and asm/dtl.h
 * instead (through the stand-ins in linux-shim/), so the same main() checks both the
 * hand-written declaration and Linux's.
 *
 * The program prints, for every field, "STRUCT FIELD OFFSET SIZE", and for every
 * structure "STRUCT - SIZEOF ALIGNOF". The Rust test c_layout.rs compares that output
 * with the Rust layout tables. The output must list fields in declaration order.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef NUMABOOT_LINUX_HEADERS
#include <asm/lppaca.h>
#include <asm/dtl.h>
#else

/* ____cacheline_aligned on PPC64: L1_CACHE_BYTES is 128. */
#define PPC64_CACHELINE __attribute__((aligned(128)))
#define BOLTED_SLBS 2

struct lppaca {
	/* first cache line: read-mostly */
	uint32_t desc;
	uint16_t size;
	uint8_t reserved1[3];
	uint8_t __old_status;
	uint8_t reserved3[14];
	uint32_t dyn_hw_node_id;
	uint32_t dyn_hw_proc_id;
	uint8_t reserved4[56];
	uint8_t vphn_assoc_counts[8];
	uint8_t reserved5[32];
	/* second cache line */
	uint8_t reserved6[48];
	uint8_t cede_latency_hint;
	uint8_t ebb_regs_in_use;
	uint8_t reserved7[6];
	uint8_t dtl_enable_mask;
	uint8_t donate_dedicated_cpu;
	uint8_t fpregs_in_use;
	uint8_t pmcregs_in_use;
	uint8_t reserved8[28];
	uint64_t wait_state_cycles;
	uint8_t reserved9[28];
	uint16_t slb_count;
	uint8_t idle;
	uint8_t vmxregs_in_use;
	/* third cache line */
	uint32_t yield_count;
	uint32_t dispersion_count;
	uint64_t cmo_faults;
	uint64_t cmo_fault_time;
	uint8_t reserved10[64];
	uint64_t enqueue_dispatch_tb;
	uint64_t ready_enqueue_tb;
	uint64_t wait_ready_tb;
	uint8_t reserved11[16];
	/* fourth and fifth cache lines */
	uint32_t page_ins;
	uint8_t reserved12[148];
	uint64_t dtl_idx;
	uint8_t reserved13[96];
} PPC64_CACHELINE;

struct slb_shadow {
	uint32_t persistent;
	uint32_t buffer_length;
	uint64_t reserved;
	struct {
		uint64_t esid;
		uint64_t vsid;
	} save_area[BOLTED_SLBS];
} PPC64_CACHELINE;

struct dtl_entry {
	uint8_t dispatch_reason;
	uint8_t preempt_reason;
	uint16_t processor_id;
	uint32_t enqueue_to_dispatch_time;
	uint32_t ready_to_enqueue_time;
	uint32_t waiting_to_ready_time;
	uint64_t timebase;
	uint64_t fault_addr;
	uint64_t srr0;
	uint64_t srr1;
};

#endif /* NUMABOOT_LINUX_HEADERS */

#define FIELD(s, f) \
	printf("%s %s %zu %zu\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f))
#define TOTAL(s) \
	printf("%s - %zu %zu\n", #s, sizeof(struct s), (size_t)_Alignof(struct s))

int main(void)
{
	FIELD(lppaca, desc);
	FIELD(lppaca, size);
	FIELD(lppaca, reserved1);
	FIELD(lppaca, __old_status);
	FIELD(lppaca, reserved3);
	FIELD(lppaca, dyn_hw_node_id);
	FIELD(lppaca, dyn_hw_proc_id);
	FIELD(lppaca, reserved4);
	FIELD(lppaca, vphn_assoc_counts);
	FIELD(lppaca, reserved5);
	FIELD(lppaca, reserved6);
	FIELD(lppaca, cede_latency_hint);
	FIELD(lppaca, ebb_regs_in_use);
	FIELD(lppaca, reserved7);
	FIELD(lppaca, dtl_enable_mask);
	FIELD(lppaca, donate_dedicated_cpu);
	FIELD(lppaca, fpregs_in_use);
	FIELD(lppaca, pmcregs_in_use);
	FIELD(lppaca, reserved8);
	FIELD(lppaca, wait_state_cycles);
	FIELD(lppaca, reserved9);
	FIELD(lppaca, slb_count);
	FIELD(lppaca, idle);
	FIELD(lppaca, vmxregs_in_use);
	FIELD(lppaca, yield_count);
	FIELD(lppaca, dispersion_count);
	FIELD(lppaca, cmo_faults);
	FIELD(lppaca, cmo_fault_time);
	FIELD(lppaca, reserved10);
	FIELD(lppaca, enqueue_dispatch_tb);
	FIELD(lppaca, ready_enqueue_tb);
	FIELD(lppaca, wait_ready_tb);
	FIELD(lppaca, reserved11);
	FIELD(lppaca, page_ins);
	FIELD(lppaca, reserved12);
	FIELD(lppaca, dtl_idx);
	FIELD(lppaca, reserved13);
	TOTAL(lppaca);

	FIELD(slb_shadow, persistent);
	FIELD(slb_shadow, buffer_length);
	FIELD(slb_shadow, reserved);
	FIELD(slb_shadow, save_area);
	printf("slb_shadow save_area[0].esid %zu %zu\n",
	       offsetof(struct slb_shadow, save_area[0].esid),
	       sizeof(((struct slb_shadow *)0)->save_area[0].esid));
	printf("slb_shadow save_area[0].vsid %zu %zu\n",
	       offsetof(struct slb_shadow, save_area[0].vsid),
	       sizeof(((struct slb_shadow *)0)->save_area[0].vsid));
	TOTAL(slb_shadow);

	FIELD(dtl_entry, dispatch_reason);
	FIELD(dtl_entry, preempt_reason);
	FIELD(dtl_entry, processor_id);
	FIELD(dtl_entry, enqueue_to_dispatch_time);
	FIELD(dtl_entry, ready_to_enqueue_time);
	FIELD(dtl_entry, waiting_to_ready_time);
	FIELD(dtl_entry, timebase);
	FIELD(dtl_entry, fault_addr);
	FIELD(dtl_entry, srr0);
	FIELD(dtl_entry, srr1);
	TOTAL(dtl_entry);
	return 0;
}
