//! A real console of `cargo xtask e2e` (VOF, 8 CPUs on 4 nodes of 256 MiB, node 3
//! memoryless, linux-6.1), the base the `check` tests break one rule at a time.

/// The console QEMU printed for that run.
pub const CONSOLE_8X4: &str = r#"NB begin initrd=0xcb0000 size=0x200000
NB topology cpus=8 nodes=4 memory_ranges=3 rma=0x10000000 bootargs=""
NB memory base=0x0 size=0x10000000 node=0
NB memory base=0x10000000 size=0x10000000 node=1
NB memory base=0x20000000 size=0x10000000 node=2
NB plan strategy=linux-6.1 paca_limit=0x10000000 allocations=66 heap=82872
NB plan cpu=0 hw=0 node=0 paca=0xeb0000 paca_node=0 lppaca=0xeb1000 lppaca_node=0 lppaca_outcome="no node requested: boot CPU: allocated bottom-up before NUMA is known" slb=0xeb0d00 slb_node=0 dtl=0xfff6000 hardirq=0xffec000 softirq=0xfff0000
NB plan cpu=1 hw=1 node=0 paca=0xffff280 paca_node=0 lppaca=0xfffec00 lppaca_node=0 lppaca_outcome="local" slb=0xffff200 slb_node=0 dtl=0xfff5000 hardirq=0xffe4000 softirq=0xffe8000
NB plan cpu=2 hw=2 node=1 paca=0xfffdf00 paca_node=0 lppaca=0xfffd800 lppaca_node=0 lppaca_outcome="fallback: all of the node's memory is above the limit" slb=0xffff180 slb_node=0 dtl=0xfff4000 hardirq=0x1fff8000 softirq=0x1fffc000
NB plan cpu=3 hw=3 node=1 paca=0xfffcb00 paca_node=0 lppaca=0xfffc400 lppaca_node=0 lppaca_outcome="fallback: all of the node's memory is above the limit" slb=0xffff100 slb_node=0 dtl=0xff83000 hardirq=0x1fff0000 softirq=0x1fff4000
NB plan cpu=4 hw=4 node=2 paca=0xfffb700 paca_node=0 lppaca=0xfffb000 lppaca_node=0 lppaca_outcome="fallback: all of the node's memory is above the limit" slb=0xffff080 slb_node=0 dtl=0xff82000 hardirq=0x2fff8000 softirq=0x2fffc000
NB plan cpu=5 hw=5 node=2 paca=0xfffa300 paca_node=0 lppaca=0xfff9c00 lppaca_node=0 lppaca_outcome="fallback: all of the node's memory is above the limit" slb=0xffff000 slb_node=0 dtl=0xff81000 hardirq=0x2fff0000 softirq=0x2fff4000
NB plan cpu=6 hw=6 node=3 paca=0xfff8f00 paca_node=0 lppaca=0xfff8800 lppaca_node=0 lppaca_outcome="fallback: the node has no memory" slb=0xfffde80 slb_node=0 dtl=0xff80000 hardirq=0x2ffe8000 softirq=0x2ffec000
NB plan cpu=7 hw=7 node=3 paca=0xfff7b00 paca_node=0 lppaca=0xfff7400 lppaca_node=0 lppaca_outcome="fallback: the node has no memory" slb=0xfffde00 slb_node=0 dtl=0xff7f000 hardirq=0x2ffe0000 softirq=0x2ffe4000
NB hcall name=init flags=0x200000000000 proc=0 addr=0xeb1000 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=0 addr=0xeb0d00 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=0 addr=0xfff6000 len=0x00001000 rc=0
NB hcall name=init flags=0x200000000000 proc=1 addr=0xfffec00 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=1 addr=0xffff200 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=1 addr=0xfff5000 len=0x00001000 rc=0
NB hcall name=init flags=0x200000000000 proc=2 addr=0xfffd800 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=2 addr=0xffff180 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=2 addr=0xfff4000 len=0x00001000 rc=0
NB hcall name=init flags=0x200000000000 proc=3 addr=0xfffc400 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=3 addr=0xffff100 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=3 addr=0xff83000 len=0x00001000 rc=0
NB hcall name=init flags=0x200000000000 proc=4 addr=0xfffb000 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=4 addr=0xffff080 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=4 addr=0xff82000 len=0x00001000 rc=0
NB hcall name=init flags=0x200000000000 proc=5 addr=0xfff9c00 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=5 addr=0xffff000 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=5 addr=0xff81000 len=0x00001000 rc=0
NB hcall name=init flags=0x200000000000 proc=6 addr=0xfff8800 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=6 addr=0xfffde80 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=6 addr=0xff80000 len=0x00001000 rc=0
NB hcall name=init flags=0x200000000000 proc=7 addr=0xfff7400 len=0x04000000 rc=0
NB hcall name=init flags=0x600000000000 proc=7 addr=0xfffde00 len=0x00000080 rc=0
NB hcall name=init flags=0x400000000000 proc=7 addr=0xff7f000 len=0x00001000 rc=0
NB hcall name=size_below_640 flags=0x200000000000 proc=0 addr=0xc5a000 len=0x01000000 rc=-4
NB hcall name=crosses_4k flags=0x200000000000 proc=0 addr=0xc5ac00 len=0x05000000 rc=-4
NB hcall name=misaligned flags=0x200000000000 proc=0 addr=0xc5a008 len=0x02800000 rc=-4
NB hcall name=unknown_cpu flags=0x200000000000 proc=9999 addr=0xc5a400 len=0x02800000 rc=-4
NB hcall name=address_zero flags=0x200000000000 proc=0 addr=0x0 len=0x00000000 rc=-1
NB hcall name=dereg_vpa_busy flags=0xa00000000000 proc=7 addr=0x0 len=0x00000000 rc=-16
NB hcall name=dereg_dtl flags=0xc00000000000 proc=7 addr=0x0 len=0x00000000 rc=0
NB hcall name=dereg_slb flags=0xe00000000000 proc=7 addr=0x0 len=0x00000000 rc=0
NB hcall name=dereg_vpa flags=0xa00000000000 proc=7 addr=0x0 len=0x00000000 rc=0
NB hcall name=dereg_vpa_again flags=0xa00000000000 proc=7 addr=0x0 len=0x00000000 rc=0
NB hcall name=dtl_before_vpa flags=0x400000000000 proc=7 addr=0xff7f000 len=0x00001000 rc=-16
NB hcall name=slb_before_vpa flags=0x600000000000 proc=7 addr=0xfffde00 len=0x00000080 rc=-16
NB hcall name=reinit flags=0x200000000000 proc=7 addr=0xfff7400 len=0x04000000 rc=0
NB hcall name=reinit flags=0x600000000000 proc=7 addr=0xfffde00 len=0x00000080 rc=0
NB hcall name=reinit flags=0x400000000000 proc=7 addr=0xff7f000 len=0x00001000 rc=0
NB start-cpu hw=1 rc=0
NB start-cpu hw=2 rc=0
NB start-cpu hw=3 rc=0
NB cpu 3 lppaca=0xfffc400 status=0x2 yield=4 home_rc=0 home=0x0,0x1
NB cpu 4 lppaca=0xfffb000 status=0x2 yield=4 home_rc=0 home=0x0,0x2
NB start-cpu hw=4 rc=0
NB start-cpu hw=5 rc=0
NB start-cpu hw=6 rc=0
NB start-cpu hw=7 rc=0
NB cpu 1 lppaca=0xfffec00 status=0x2 yield=4 home_rc=0 home=0x0,0x0
NB cpu 2 lppaca=0xfffd800 status=0x2 yield=4 home_rc=0 home=0x0,0x1
NB cpu 7 lppaca=0xfff7400 status=0x2 yield=4 home_rc=0 home=0x0,0x3
NB cpu 6 lppaca=0xfff8800 status=0x2 yield=4 home_rc=0 home=0x0,0x3
NB cpu 5 lppaca=0xfff9c00 status=0x2 yield=4 home_rc=0 home=0x0,0x2
NB secondaries-done 7
NB crash-shutdown hcalls=0 sc1=0
NB hcall name=kexec flags=0xc00000000000 proc=0 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=0 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=0 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=0 calls=3
NB hcall name=kexec flags=0xc00000000000 proc=1 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=1 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=1 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=1 calls=3
NB hcall name=kexec flags=0xc00000000000 proc=2 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=2 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=2 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=2 calls=3
NB hcall name=kexec flags=0xc00000000000 proc=3 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=3 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=3 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=3 calls=3
NB hcall name=kexec flags=0xc00000000000 proc=4 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=4 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=4 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=4 calls=3
NB hcall name=kexec flags=0xc00000000000 proc=5 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=5 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=5 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=5 calls=3
NB hcall name=kexec flags=0xc00000000000 proc=6 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=6 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=6 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=6 calls=3
NB hcall name=kexec flags=0xc00000000000 proc=7 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xe00000000000 proc=7 addr=0x0 len=0x00000000 rc=0
NB hcall name=kexec flags=0xa00000000000 proc=7 addr=0x0 len=0x00000000 rc=0
NB kexec-down cpu=7 calls=3
NB end
"#;
