/* lppaca.h needs only SLB_NUM_BOLTED from the MMU headers. The test reads its value
 * from the kernel's asm/book3s/64/mmu-hash.h and passes it with -D, because that
 * header drags in most of the kernel. */
#ifndef SLB_NUM_BOLTED
#error "compile with -DSLB_NUM_BOLTED=<value from asm/book3s/64/mmu-hash.h>"
#endif
