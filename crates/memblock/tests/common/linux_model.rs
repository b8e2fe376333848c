//! A line-by-line transcription of Linux 6.1 `mm/memblock.c` (the parts the crate
//! models), kept deliberately naive: C-style arrays with the dummy entry of an empty
//! type, linear scans, whole-array merges, and the lockstep `__next_mem_range[_rev]`
//! iterators with their packed `u64` index. The crate's optimised implementation must
//! agree with it on every state and every returned address.
//!
//! The crate's documented deviations are mirrored here so that the comparison is exact:
//! a failed operation is rolled back (Linux can keep a grown array); where Linux stops
//! at a BUG_ON or copies one region array onto the other (aliasing), the operation
//! fails, and an allocation does not go on to another node; mirrored memory is never
//! requested. What Linux really does in those cases is checked against Linux's own code
//! by tests/linux_oracle.rs.
#![allow(dead_code)]

pub const MAX_NUMNODES: i32 = 256;
pub const NUMA_NO_NODE: i32 = -1;
pub const HOTPLUG: u32 = 1;
pub const MIRROR: u32 = 2;
pub const NOMAP: u32 = 4;
pub const DRIVER_MANAGED: u32 = 8;
const REGION_SIZE: u64 = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg {
    pub base: u64,
    pub size: u64,
    pub flags: u32,
    pub nid: i32,
}

#[derive(Clone, Debug)]
pub struct Type {
    /// `regions[..cnt]`; `cnt` is `regions.len()` and never 0.
    pub regions: Vec<Reg>,
    pub max: usize,
    pub total_size: u64,
    pub location: Option<u64>,
    pub is_reserved: bool,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub memory: Type,
    pub reserved: Type,
    pub bottom_up: bool,
    pub current_limit: u64,
    pub movable_node: bool,
    pub page_size: u64,
    pub can_resize: bool,
    pub smp_cache_bytes: u64,
    /// The last failure was one Linux does not survive (BUG_ON or aliased arrays).
    pub fatal: bool,
}

const DUMMY: Reg = Reg {
    base: 0,
    size: 0,
    flags: 0,
    nid: MAX_NUMNODES,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Memory,
    Reserved,
}

fn cap_size(base: u64, size: &mut u64) -> u64 {
    *size = (*size).min(u64::MAX - base);
    *size
}

fn round_up(x: u64, y: u64) -> u64 {
    (x.wrapping_sub(1) | y.wrapping_sub(1)).wrapping_add(1)
}

fn round_down(x: u64, y: u64) -> u64 {
    x & !y.wrapping_sub(1)
}

impl Model {
    pub fn new(page_size: u64, init_regions: usize) -> Self {
        let t = |is_reserved| Type {
            regions: vec![DUMMY],
            max: init_regions,
            total_size: 0,
            location: None,
            is_reserved,
        };
        Model {
            memory: t(false),
            reserved: t(true),
            bottom_up: false,
            current_limit: u64::MAX,
            movable_node: false,
            page_size,
            can_resize: true,
            smp_cache_bytes: 128,
            fatal: false,
        }
    }

    fn ty(&mut self, w: Which) -> &mut Type {
        match w {
            Which::Memory => &mut self.memory,
            Which::Reserved => &mut self.reserved,
        }
    }

    fn page_align(&self, x: u64) -> u64 {
        x.wrapping_add(self.page_size - 1) & !(self.page_size - 1)
    }

    // ------------------------------------------------------------------ find

    fn should_skip_region(&self, is_memory: bool, m: &Reg, nid: i32, flags: u32) -> bool {
        if !is_memory {
            return false;
        }
        if nid != NUMA_NO_NODE && nid != m.nid {
            return true;
        }
        if self.movable_node && m.flags & HOTPLUG != 0 && flags & HOTPLUG == 0 {
            return true;
        }
        if flags & MIRROR != 0 && m.flags & MIRROR == 0 {
            return true;
        }
        if flags & NOMAP == 0 && m.flags & NOMAP != 0 {
            return true;
        }
        if flags & DRIVER_MANAGED == 0 && m.flags & DRIVER_MANAGED != 0 {
            return true;
        }
        false
    }

    /// `__next_mem_range(idx, nid, flags, &memory, &reserved, ...)`.
    fn next_mem_range(&self, idx: &mut u64, nid: i32, flags: u32) -> Option<(u64, u64, i32)> {
        let a = &self.memory;
        let b = &self.reserved;
        let mut idx_a = (*idx & 0xffff_ffff) as i64;
        let mut idx_b = (*idx >> 32) as i64;
        while idx_a < a.regions.len() as i64 {
            let m = a.regions[idx_a as usize];
            let m_start = m.base;
            let m_end = m.base + m.size;
            if self.should_skip_region(true, &m, nid, flags) {
                idx_a += 1;
                continue;
            }
            while idx_b < b.regions.len() as i64 + 1 {
                let r_start = if idx_b > 0 {
                    let p = b.regions[idx_b as usize - 1];
                    p.base + p.size
                } else {
                    0
                };
                let r_end = if idx_b < b.regions.len() as i64 {
                    b.regions[idx_b as usize].base
                } else {
                    u64::MAX
                };
                if r_start >= m_end {
                    break;
                }
                if m_start < r_end {
                    let out = (m_start.max(r_start), m_end.min(r_end), m.nid);
                    if m_end <= r_end {
                        idx_a += 1;
                    } else {
                        idx_b += 1;
                    }
                    *idx = (idx_a as u32 as u64) | ((idx_b as u64) << 32);
                    return Some(out);
                }
                idx_b += 1;
            }
            idx_a += 1;
        }
        *idx = u64::MAX;
        None
    }

    /// `__next_mem_range_rev`.
    fn next_mem_range_rev(&self, idx: &mut u64, nid: i32, flags: u32) -> Option<(u64, u64, i32)> {
        let a = &self.memory;
        let b = &self.reserved;
        let mut idx_a = (*idx & 0xffff_ffff) as u32 as i32 as i64;
        let mut idx_b = (*idx >> 32) as u32 as i32 as i64;
        if *idx == u64::MAX {
            idx_a = a.regions.len() as i64 - 1;
            idx_b = b.regions.len() as i64;
        }
        while idx_a >= 0 {
            let m = a.regions[idx_a as usize];
            let m_start = m.base;
            let m_end = m.base + m.size;
            if self.should_skip_region(true, &m, nid, flags) {
                idx_a -= 1;
                continue;
            }
            while idx_b >= 0 {
                let r_start = if idx_b > 0 {
                    let p = b.regions[idx_b as usize - 1];
                    p.base + p.size
                } else {
                    0
                };
                let r_end = if idx_b < b.regions.len() as i64 {
                    b.regions[idx_b as usize].base
                } else {
                    u64::MAX
                };
                if r_end <= m_start {
                    break;
                }
                if m_end > r_start {
                    let out = (m_start.max(r_start), m_end.min(r_end), m.nid);
                    if m_start >= r_start {
                        idx_a -= 1;
                    } else {
                        idx_b -= 1;
                    }
                    *idx = (idx_a as u32 as u64) | ((idx_b as u32 as u64) << 32);
                    return Some(out);
                }
                idx_b -= 1;
            }
            idx_a -= 1;
        }
        *idx = u64::MAX;
        None
    }

    pub fn free_ranges(&self, nid: i32, reverse: bool) -> Vec<(u64, u64, i32)> {
        let mut v = Vec::new();
        let mut idx = if reverse { u64::MAX } else { 0 };
        loop {
            let r = if reverse {
                self.next_mem_range_rev(&mut idx, nid, 0)
            } else {
                self.next_mem_range(&mut idx, nid, 0)
            };
            match r {
                Some(x) => v.push(x),
                None => return v,
            }
            if idx == u64::MAX {
                return v;
            }
        }
    }

    fn find_range_bottom_up(&self, start: u64, end: u64, size: u64, align: u64, nid: i32) -> u64 {
        let mut idx = 0u64;
        while let Some((s, e, _)) = self.next_mem_range(&mut idx, nid, 0) {
            let this_start = s.clamp(start, end);
            let this_end = e.clamp(start, end);
            let cand = round_up(this_start, align);
            if cand < this_end && this_end - cand >= size {
                return cand;
            }
            if idx == u64::MAX {
                break;
            }
        }
        0
    }

    fn find_range_top_down(&self, start: u64, end: u64, size: u64, align: u64, nid: i32) -> u64 {
        let mut idx = u64::MAX;
        while let Some((s, e, _)) = self.next_mem_range_rev(&mut idx, nid, 0) {
            let this_start = s.clamp(start, end);
            let this_end = e.clamp(start, end);
            if this_end >= size {
                let cand = round_down(this_end - size, align);
                if cand >= this_start {
                    return cand;
                }
            }
            if idx == u64::MAX {
                break;
            }
        }
        0
    }

    fn find_in_range_node(&self, size: u64, align: u64, start: u64, end: u64, nid: i32) -> u64 {
        let end = if end == 0 || end == 1 {
            self.current_limit
        } else {
            end
        };
        let start = start.max(self.page_size);
        let end = end.max(start);
        if self.bottom_up {
            self.find_range_bottom_up(start, end, size, align, nid)
        } else {
            self.find_range_top_down(start, end, size, align, nid)
        }
    }

    fn find_in_range(&self, start: u64, end: u64, size: u64, align: u64) -> u64 {
        self.find_in_range_node(size, align, start, end, NUMA_NO_NODE)
    }

    // ------------------------------------------------------------------ arrays

    fn remove_region(&mut self, w: Which, r: usize) {
        let t = self.ty(w);
        t.total_size -= t.regions[r].size;
        t.regions.remove(r);
        if t.regions.is_empty() {
            t.regions.push(DUMMY);
        }
    }

    fn double_array(&mut self, w: Which, new_area_start: u64, new_area_size: u64) -> bool {
        if !self.can_resize {
            return false;
        }
        let t = self.ty(w);
        let old_size = t.max as u64 * REGION_SIZE;
        let new_size = old_size << 1;
        let old_alloc_size = self.page_align(old_size);
        let new_alloc_size = self.page_align(new_size);
        let (mut nas, mut nasz) = (new_area_start, new_area_size);
        if w != Which::Reserved {
            nas = 0;
            nasz = 0;
        }
        let mut addr = self.find_in_range(
            nas + nasz,
            self.current_limit,
            new_alloc_size,
            self.page_size,
        );
        if addr == 0 && nasz != 0 {
            addr = self.find_in_range(
                0,
                nas.min(self.current_limit),
                new_alloc_size,
                self.page_size,
            );
        }
        if addr == 0 {
            return false;
        }
        // memcpy onto the other array, if it lives there unreserved: the crate fails
        // with Error::ArrayAlias, where Linux's two arrays would share memory.
        let other = match w {
            Which::Memory => &self.reserved,
            Which::Reserved => &self.memory,
        };
        if let Some(loc) = other.location {
            let other_bytes = other.max as u64 * REGION_SIZE;
            if addr < loc.saturating_add(other_bytes) && loc < addr.saturating_add(new_size) {
                self.fatal = true;
                return false;
            }
        }
        let t = self.ty(w);
        let old = t.location.replace(addr);
        t.max <<= 1;
        if let Some(old) = old {
            // memblock_free -> memblock_phys_free; its result is ignored by Linux.
            if self
                .remove_range(Which::Reserved, old, old_alloc_size)
                .is_err()
            {
                return false;
            }
        }
        self.add_range(Which::Reserved, addr, new_alloc_size, MAX_NUMNODES, 0)
            .is_ok()
    }

    fn merge_regions(&mut self, w: Which) {
        let t = self.ty(w);
        let mut i = 0;
        while i + 1 < t.regions.len() {
            let this = t.regions[i];
            let next = t.regions[i + 1];
            if this.base + this.size != next.base
                || this.nid != next.nid
                || this.flags != next.flags
            {
                assert!(
                    this.base + this.size <= next.base,
                    "overlap in {:?}",
                    t.regions
                );
                i += 1;
                continue;
            }
            t.regions[i].size += next.size;
            t.regions.remove(i + 1);
        }
    }

    /// `Err` where Linux hits `BUG_ON(type->cnt >= type->max)` (the crate fails the
    /// operation instead).
    fn insert_region(
        &mut self,
        w: Which,
        idx: usize,
        base: u64,
        size: u64,
        nid: i32,
        flags: u32,
    ) -> Result<(), ()> {
        let t = self.ty(w);
        if t.regions.len() >= t.max {
            self.fatal = true;
            return Err(());
        }
        t.regions.insert(
            idx,
            Reg {
                base,
                size,
                flags,
                nid,
            },
        );
        t.total_size += size;
        Ok(())
    }

    fn add_range(
        &mut self,
        w: Which,
        base: u64,
        size: u64,
        nid: i32,
        flags: u32,
    ) -> Result<(), ()> {
        let mut size = size;
        let obase = base;
        let end = base + cap_size(base, &mut size);
        if size == 0 {
            return Ok(());
        }
        {
            let t = self.ty(w);
            if t.regions[0].size == 0 {
                assert!(t.regions.len() == 1 && t.total_size == 0);
                t.regions[0] = Reg {
                    base,
                    size,
                    flags,
                    nid,
                };
                t.total_size = size;
                return Ok(());
            }
        }
        let mut insert = {
            let t = self.ty(w);
            t.regions.len() * 2 + 1 < t.max
        };
        loop {
            let mut base = obase;
            let mut nr_new = 0;
            let mut idx = 0;
            while idx < self.ty(w).regions.len() {
                let rgn = self.ty(w).regions[idx];
                let rbase = rgn.base;
                let rend = rbase + rgn.size;
                if rbase >= end {
                    break;
                }
                if rend <= base {
                    idx += 1;
                    continue;
                }
                if rbase > base {
                    nr_new += 1;
                    if insert {
                        self.insert_region(w, idx, base, rbase - base, nid, flags)?;
                        idx += 1;
                    }
                }
                base = rend.min(end);
                idx += 1;
            }
            if base < end {
                nr_new += 1;
                if insert {
                    self.insert_region(w, idx, base, end - base, nid, flags)?;
                }
            }
            if nr_new == 0 {
                return Ok(());
            }
            if !insert {
                while self.ty(w).regions.len() + nr_new > self.ty(w).max {
                    if !self.double_array(w, obase, size) {
                        return Err(());
                    }
                }
                insert = true;
            } else {
                self.merge_regions(w);
                return Ok(());
            }
        }
    }

    fn isolate_range(&mut self, w: Which, base: u64, size: u64) -> Result<(usize, usize), ()> {
        let mut size = size;
        let end = base + cap_size(base, &mut size);
        let (mut start_rgn, mut end_rgn) = (0usize, 0usize);
        if size == 0 {
            return Ok((0, 0));
        }
        while self.ty(w).regions.len() + 2 > self.ty(w).max {
            if !self.double_array(w, base, size) {
                return Err(());
            }
        }
        let mut idx: i64 = 0;
        while (idx as usize) < self.ty(w).regions.len() {
            let rgn = self.ty(w).regions[idx as usize];
            let rbase = rgn.base;
            let rend = rbase + rgn.size;
            if rbase >= end {
                break;
            }
            if rend <= base {
                idx += 1;
                continue;
            }
            if rbase < base {
                let t = self.ty(w);
                t.regions[idx as usize].base = base;
                t.regions[idx as usize].size -= base - rbase;
                t.total_size -= base - rbase;
                self.insert_region(w, idx as usize, rbase, base - rbase, rgn.nid, rgn.flags)?;
            } else if rend > end {
                let t = self.ty(w);
                t.regions[idx as usize].base = end;
                t.regions[idx as usize].size -= end - rbase;
                t.total_size -= end - rbase;
                self.insert_region(w, idx as usize, rbase, end - rbase, rgn.nid, rgn.flags)?;
                idx -= 1;
            } else {
                if end_rgn == 0 {
                    start_rgn = idx as usize;
                }
                end_rgn = idx as usize + 1;
            }
            idx += 1;
        }
        Ok((start_rgn, end_rgn))
    }

    fn remove_range(&mut self, w: Which, base: u64, size: u64) -> Result<(), ()> {
        let (s, e) = self.isolate_range(w, base, size)?;
        for i in (s..e).rev() {
            self.remove_region(w, i);
        }
        Ok(())
    }

    /// Runs `f`; on failure restores the state from before (the crate's rollback),
    /// except `fatal`.
    fn txn(&mut self, f: impl FnOnce(&mut Self) -> Result<(), ()>) -> Result<(), ()> {
        let saved = self.clone();
        let r = f(self);
        if r.is_err() {
            let fatal = self.fatal;
            *self = saved;
            self.fatal = fatal;
        }
        r
    }

    // ------------------------------------------------------------------ public

    pub fn add_node(&mut self, base: u64, size: u64, nid: i32, flags: u32) -> Result<(), ()> {
        self.txn(|m| m.add_range(Which::Memory, base, size, nid, flags))
    }
    pub fn reserve(&mut self, base: u64, size: u64) -> Result<(), ()> {
        self.txn(|m| m.add_range(Which::Reserved, base, size, MAX_NUMNODES, 0))
    }
    pub fn remove(&mut self, base: u64, size: u64) -> Result<(), ()> {
        self.txn(|m| m.remove_range(Which::Memory, base, size))
    }
    pub fn phys_free(&mut self, base: u64, size: u64) -> Result<(), ()> {
        self.txn(|m| m.remove_range(Which::Reserved, base, size))
    }
    pub fn setclr_flag(&mut self, base: u64, size: u64, set: bool, flag: u32) -> Result<(), ()> {
        self.txn(|m| {
            let (s, e) = m.isolate_range(Which::Memory, base, size)?;
            for i in s..e {
                let r = &mut m.memory.regions[i];
                if set {
                    r.flags |= flag;
                } else {
                    r.flags &= !flag;
                }
            }
            m.merge_regions(Which::Memory);
            Ok(())
        })
    }
    pub fn set_node(&mut self, base: u64, size: u64, nid: i32) -> Result<(), ()> {
        self.txn(|m| {
            let (s, e) = m.isolate_range(Which::Memory, base, size)?;
            for i in s..e {
                m.memory.regions[i].nid = nid;
            }
            m.merge_regions(Which::Memory);
            Ok(())
        })
    }

    pub fn alloc_range_nid(
        &mut self,
        size: u64,
        align: u64,
        start: u64,
        end: u64,
        nid: i32,
        exact_nid: bool,
    ) -> u64 {
        let nid = if nid == MAX_NUMNODES {
            NUMA_NO_NODE
        } else {
            nid
        };
        let align = if align == 0 {
            self.smp_cache_bytes
        } else {
            align
        };
        self.fatal = false;
        let found = self.find_in_range_node(size, align, start, end, nid);
        if found != 0 && self.reserve(found, size).is_ok() {
            return found;
        }
        // Linux is down (BUG_ON or aliased arrays): the crate fails at once.
        if self.fatal {
            return 0;
        }
        if nid != NUMA_NO_NODE && !exact_nid {
            let found = self.find_in_range_node(size, align, start, end, NUMA_NO_NODE);
            if found != 0 && self.reserve(found, size).is_ok() {
                return found;
            }
        }
        0
    }

    pub fn alloc_internal(
        &mut self,
        size: u64,
        align: u64,
        min_addr: u64,
        max_addr: u64,
        nid: i32,
        exact_nid: bool,
    ) -> u64 {
        let max_addr = if max_addr > self.current_limit {
            self.current_limit
        } else {
            max_addr
        };
        let mut alloc = self.alloc_range_nid(size, align, min_addr, max_addr, nid, exact_nid);
        if alloc == 0 && min_addr != 0 && !self.fatal {
            alloc = self.alloc_range_nid(size, align, 0, max_addr, nid, exact_nid);
        }
        alloc
    }

    /// The regions as the crate exposes them (no dummy entry).
    pub fn real(t: &Type) -> Vec<Reg> {
        if t.regions.len() == 1 && t.regions[0].size == 0 {
            Vec::new()
        } else {
            t.regions.clone()
        }
    }
}
