/* Entry stubs and the hypervisor-call trampoline of the numaboot e2e guest.
 *
 * Firmware (VOF or SLOF) and RTAS start-cpu enter us big-endian, VOF also with MSR[SF]
 * clear. FIXUP_ENDIAN is Linux's trick (arch/powerpc/include/asm/ppc_asm.h): assembled
 * little-endian, the first word is "tdi 0,0,0x48" (a trap that never fires); fetched
 * big-endian, the same bytes are "b .+8", which lands on the byte-swapped words that
 * flip MSR[LE] with rfid and come back to the "b 1f" in little-endian. After it we set
 * SF|FP|VEC|VSX and clear EE with a second rfid: Rust's prebuilt core for this target
 * uses VSX and assumes 64-bit mode, and the guest has no exception vectors.
 */
    .abiversion 2
    .section .text.start, "ax"
    .globl _start
_start:
    tdi   0,0,0x48          /* little-endian: no-op; fetched big-endian: b .+8 */
    b     1f
    .long 0xa600607d        /* mfmsr r11 */
    .long 0x01006b69        /* xori r11,r11,1 (MSR_LE) */
    .long 0x00004039        /* li r10,0 */
    .long 0x6401417d        /* mtmsrd r10,1 */
    .long 0x05009f42        /* bcl 20,31,$+4 */
    .long 0xa602487d        /* mflr r10 */
    .long 0x14004a39        /* addi r10,r10,20 */
    .long 0xa6035a7d        /* mtsrr0 r10 */
    .long 0xa6037b7d        /* mtsrr1 r11 */
    .long 0x2400004c        /* rfid */
1:  mr    r31,r3            /* firmware's r3/r4 (initrd base/size under VOF) */
    mr    r30,r4
    li    r29,0             /* CPU index 0: the boot CPU */
    bl    set_msr64
    lis   r1,__stack_top@ha
    addi  r1,r1,__stack_top@l
    li    r0,0
    stdu  r0,-64(r1)
    lis   r2,.TOC.@ha
    addi  r2,r2,.TOC.@l
    /* clear .bss */
    lis   r3,__bss_start@ha
    addi  r3,r3,__bss_start@l
    lis   r4,__bss_end@ha
    addi  r4,r4,__bss_end@l
2:  cmpld r3,r4
    bge   3f
    std   r0,0(r3)
    addi  r3,r3,8
    b     2b
3:  mr    r3,r31
    mr    r4,r30
    bl    guest_main
4:  b     4b

/* Secondary CPUs: RTAS start-cpu enters here big-endian with r3 = our CPU index. */
    .globl _secondary
_secondary:
    tdi   0,0,0x48
    b     1f
    .long 0xa600607d
    .long 0x01006b69
    .long 0x00004039
    .long 0x6401417d
    .long 0x05009f42
    .long 0xa602487d
    .long 0x14004a39
    .long 0xa6035a7d
    .long 0xa6037b7d
    .long 0x2400004c
1:  mr    r29,r3
    bl    set_msr64
    /* stack = __stack_top - index * 16 KiB */
    lis   r1,__stack_top@ha
    addi  r1,r1,__stack_top@l
    sldi  r4,r29,14
    sub   r1,r1,r4
    li    r0,0
    stdu  r0,-64(r1)
    lis   r2,.TOC.@ha
    addi  r2,r2,.TOC.@l
    mr    r3,r29
    bl    secondary_main
2:  b     2b

/* Sets MSR[SF|FP|VEC|VSX], clears MSR[EE], through rfid; returns to the caller (LR). */
set_msr64:
    mflr  r12
    mfmsr r11
    li    r10,1
    sldi  r10,r10,63        /* MSR_SF */
    or    r11,r11,r10
    ori   r11,r11,0x2000    /* MSR_FP */
    oris  r11,r11,0x0280    /* MSR_VEC | MSR_VSX */
    li    r10,0
    ori   r10,r10,0x8000    /* MSR_EE */
    andc  r11,r11,r10
    mtsrr0 r12
    mtsrr1 r11
    rfid

/* i64 hcall_out(u64 out[6], u64 opcode, u64 a1..a6): sc 1 with r3 = opcode, r4..r9 = args;
 * returns r3 and stores r4..r9 into out. The out pointer is kept in the ELFv2 red zone.
 * CR2-CR4 are non-volatile in ELFv2 and PAPR does not promise to preserve CR, so the
 * whole CR is saved in the caller's CR save word and restored, as Linux's hvCall.S does.
 * Every call is counted in SC1_CALLS (guest/src/sc.rs) right here, next to the only
 * `sc 1` of the guest, so that "this path made no hcall" does not depend on any Rust
 * wrapper remembering to count; ldarx/stdcx. because CPUs call it concurrently (the
 * CR0 the store-conditional sets is restored with the rest of CR). */
    .text
    .globl hcall_out
hcall_out:
    mfcr  r0
    stw   r0,8(r1)
    std   r3,-8(r1)
    lis   r11,SC1_CALLS@ha
    addi  r11,r11,SC1_CALLS@l
5:  ldarx r12,0,r11
    addi  r12,r12,1
    stdcx. r12,0,r11
    bne-  5b
    mr    r3,r4
    mr    r4,r5
    mr    r5,r6
    mr    r6,r7
    mr    r7,r8
    mr    r8,r9
    mr    r9,r10
    sc    1
    ld    r12,-8(r1)
    std   r4,0(r12)
    std   r5,8(r12)
    std   r6,16(r12)
    std   r7,24(r12)
    std   r8,32(r12)
    std   r9,40(r12)
    lwz   r0,8(r1)
    mtcrf 0xff,r0
    blr

/* void set_dec(u64 ticks): mtdec. A positive value clears a pending decrementer
 * exception (level-triggered on POWER9) and arms the next one that far ahead. */
    .globl set_dec
set_dec:
    mtspr 22,r3
    blr

/* u64 read_tb(void): the timebase (512 MHz under QEMU pseries). */
    .globl read_tb
read_tb:
    mfspr r3,268
    blr
