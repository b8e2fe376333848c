//! A small, checked reader for flattened device tree blobs (why not the `fdt` crate:
//! see the crate documentation). One pass over the structure block checks every
//! offset, token and string, and builds an owned index of nodes (with their full paths,
//! for error messages) whose property values borrow from the blob.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{BlobError, DtbError};

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
const HEADER_LEN: usize = 40;
/// Deeper nesting than this is not a machine description; refusing it keeps the path
/// strings and the node stack bounded.
const MAX_DEPTH: usize = 64;

/// One property: its name and raw big-endian value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prop<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

/// One node of the tree.
#[derive(Clone, Debug)]
pub(crate) struct NodeRec<'a> {
    /// Full path, `/` for the root.
    pub path: String,
    pub props: Vec<Prop<'a>>,
    pub children: Vec<usize>,
}

/// The parsed blob: nodes in structure-block (depth-first) order, root first.
#[derive(Clone, Debug)]
pub(crate) struct Tree<'a> {
    pub nodes: Vec<NodeRec<'a>>,
    pub boot_cpuid_phys: u32,
    pub version: u32,
    pub last_comp_version: u32,
    pub totalsize: u32,
    /// `size_dt_strings` from the header.
    pub strings_size: u32,
    /// Bytes of the structure block up to and including `FDT_END` (what a version 16
    /// header does not record).
    pub struct_len: usize,
    /// The memory reservation block entries before the first entry of size 0 (the
    /// terminator, normally `(0, 0)`: libfdt and Linux stop at size 0 whatever the
    /// address).
    pub mem_reserve: Vec<(u64, u64)>,
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let b: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

fn align4(x: usize) -> Option<usize> {
    Some(x.checked_add(3)? & !3)
}

fn block<'a>(
    data: &'a [u8],
    name: &'static str,
    off: u32,
    size: u32,
) -> Result<&'a [u8], DtbError> {
    let start = off as usize;
    let end = start.checked_add(size as usize);
    end.and_then(|end| data.get(start..end))
        .ok_or(DtbError::Blob(BlobError::BlockOutOfBounds {
            block: name,
            offset: off,
            size,
            total: data.len(),
        }))
}

/// A property value as big-endian 32-bit cells (a trailing partial cell is dropped).
pub(crate) fn be_cells(v: &[u8]) -> Vec<u32> {
    v.chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `of_read_number`: big-endian cells folded into 64 bits (higher cells shift out).
pub(crate) fn read_number(c: &[u32]) -> u64 {
    c.iter()
        .fold(0u64, |acc, &x| acc.wrapping_shl(32) | u64::from(x))
}

/// A node's property value by name.
pub(crate) fn prop_value<'a>(node: &NodeRec<'a>, name: &str) -> Option<&'a [u8]> {
    node.props.iter().find(|p| p.name == name).map(|p| p.value)
}

/// Reads a NUL-terminated UTF-8 string starting at `at`.
fn cstr(bytes: &[u8], at: usize) -> Option<&str> {
    let rest = bytes.get(at..)?;
    let len = rest.iter().position(|&b| b == 0)?;
    core::str::from_utf8(rest.get(..len)?).ok()
}

impl<'a> Tree<'a> {
    /// Parses and checks a whole blob.
    pub fn parse(data: &'a [u8]) -> Result<Self, DtbError> {
        let err = |e| Err(DtbError::Blob(e));
        if data.len() < HEADER_LEN {
            return err(BlobError::TooShort { len: data.len() });
        }
        let h = |i: usize| be32(data, i * 4).unwrap_or(0);
        let magic = h(0);
        if magic != FDT_MAGIC {
            return err(BlobError::BadMagic { found: magic });
        }
        let totalsize = h(1);
        if totalsize as usize > data.len() {
            return err(BlobError::Truncated {
                totalsize,
                len: data.len(),
            });
        }
        if (totalsize as usize) < HEADER_LEN {
            return err(BlobError::TooShort {
                len: totalsize as usize,
            });
        }
        let data = data.get(..totalsize as usize).unwrap_or(data);
        let version = h(5);
        let last_comp = h(6);
        // Version 17 is what dtc, QEMU and firmware write. Version 16 is what Linux's
        // prom_init writes (the tree a pSeries kernel really boots from): the same
        // layout without a trustworthy size_dt_struct, so its structure block runs to
        // FDT_END, bounded by totalsize. Older versions name nodes by full path.
        if version < 16 || last_comp > 17 {
            return err(BlobError::Version { version, last_comp });
        }
        let boot_cpuid_phys = h(7);
        let strings = block(data, "strings", h(3), h(8))?;
        let structs = if version >= 17 {
            block(data, "structure", h(2), h(9))?
        } else {
            let size = totalsize.saturating_sub(h(2));
            block(data, "structure", h(2), size)?
        };
        let (nodes, struct_len) = walk(structs, strings)?;
        let mem_reserve = rsvmap(data, h(4))?;
        Ok(Self {
            nodes,
            boot_cpuid_phys,
            version,
            last_comp_version: last_comp,
            totalsize,
            strings_size: h(8),
            struct_len,
            mem_reserve,
        })
    }

    /// The node at `path` (exact match on full names).
    pub fn find(&self, path: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.path == path)
    }

    pub fn node(&self, i: usize) -> Option<&NodeRec<'a>> {
        self.nodes.get(i)
    }
}

/// A structure-block error, naming the innermost open node so that the message points
/// into the tree as well as at a byte offset.
fn bad<T>(
    offset: usize,
    what: &'static str,
    nodes: &[NodeRec<'_>],
    stack: &[usize],
) -> Result<T, DtbError> {
    let node = stack
        .last()
        .and_then(|&i| nodes.get(i))
        .map(|n| n.path.clone())
        .unwrap_or_default();
    Err(DtbError::Blob(BlobError::Structure { offset, node, what }))
}

/// The memory reservation block: 16-byte `(address, size)` pairs up to the first of
/// size 0 (`fdt_num_mem_rsv`; `early_init_fdt_scan_reserved_mem` stops there too, so
/// nothing after it is reserved), which must come before `totalsize` (libfdt also
/// demands it).
fn rsvmap(data: &[u8], off: u32) -> Result<Vec<(u64, u64)>, DtbError> {
    let mut out = Vec::new();
    let mut at = off as usize;
    loop {
        let word = |i: usize| -> Option<u64> {
            let s = at.checked_add(i)?;
            let b: [u8; 8] = data.get(s..s.checked_add(8)?)?.try_into().ok()?;
            Some(u64::from_be_bytes(b))
        };
        let (Some(base), Some(size)) = (word(0), word(8)) else {
            return Err(DtbError::Blob(BlobError::MemReserve {
                offset: off,
                entries: out.len(),
                total: data.len(),
            }));
        };
        if size == 0 {
            return Ok(out);
        }
        out.push((base, size));
        at = at.saturating_add(16);
    }
}

fn walk<'a>(structs: &'a [u8], strings: &'a [u8]) -> Result<(Vec<NodeRec<'a>>, usize), DtbError> {
    let mut nodes: Vec<NodeRec<'a>> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut pos = 0usize;
    let mut ended = false;
    while !ended {
        let Some(token) = be32(structs, pos) else {
            return bad(pos, "structure block ends without FDT_END", &nodes, &stack);
        };
        let here = pos;
        pos = pos.saturating_add(4);
        match token {
            FDT_BEGIN_NODE => {
                let Some(name) = cstr(structs, pos) else {
                    return bad(
                        here,
                        "node name is not NUL-terminated UTF-8",
                        &nodes,
                        &stack,
                    );
                };
                let Some(next) = pos
                    .checked_add(name.len())
                    .and_then(|x| x.checked_add(1))
                    .and_then(align4)
                else {
                    return bad(here, "node name runs past the block", &nodes, &stack);
                };
                pos = next;
                let parent = stack.last().copied();
                let path = match parent.and_then(|p| nodes.get(p)) {
                    None => {
                        if !nodes.is_empty() {
                            return bad(here, "second root node", &nodes, &stack);
                        }
                        if !name.is_empty() {
                            return bad(here, "root node has a name", &nodes, &stack);
                        }
                        String::from("/")
                    }
                    Some(p) => {
                        if name.is_empty() || name.contains('/') {
                            return bad(here, "node name is empty or contains '/'", &nodes, &stack);
                        }
                        let mut s = p.path.clone();
                        if s.len() > 1 {
                            s.push('/');
                        }
                        s.push_str(name);
                        s
                    }
                };
                if stack.len() >= MAX_DEPTH {
                    return bad(here, "nodes nested deeper than 64 levels", &nodes, &stack);
                }
                let idx = nodes.len();
                if let Some(p) = parent.and_then(|p| nodes.get_mut(p)) {
                    p.children.push(idx);
                }
                nodes.push(NodeRec {
                    path,
                    props: Vec::new(),
                    children: Vec::new(),
                });
                stack.push(idx);
            }
            FDT_END_NODE => {
                if stack.pop().is_none() {
                    return bad(here, "FDT_END_NODE without an open node", &nodes, &stack);
                }
            }
            FDT_PROP => {
                let (Some(len), Some(nameoff)) =
                    (be32(structs, pos), be32(structs, pos.saturating_add(4)))
                else {
                    return bad(here, "property header runs past the block", &nodes, &stack);
                };
                let vstart = pos.saturating_add(8);
                let Some(vend) = vstart.checked_add(len as usize) else {
                    return bad(here, "property length overflows", &nodes, &stack);
                };
                let Some(value) = structs.get(vstart..vend) else {
                    return bad(
                        here,
                        "property value runs past the structure block",
                        &nodes,
                        &stack,
                    );
                };
                let Some(name) = cstr(strings, nameoff as usize) else {
                    return bad(
                        here,
                        "property name offset is outside the strings block",
                        &nodes,
                        &stack,
                    );
                };
                let Some(next) = align4(vend) else {
                    return bad(here, "property length overflows", &nodes, &stack);
                };
                pos = next;
                let Some(node) = stack.last().and_then(|&n| nodes.get_mut(n)) else {
                    return bad(here, "property outside any node", &nodes, &stack);
                };
                // Linux's of_get_property returns the first of duplicate names, and so
                // does the lookup here; checking for duplicates would cost quadratic
                // time on hostile blobs.
                if !node.children.is_empty() {
                    return bad(here, "property after a child node", &nodes, &stack);
                }
                node.props.push(Prop { name, value });
            }
            FDT_NOP => {}
            FDT_END => {
                if !stack.is_empty() {
                    return bad(here, "FDT_END inside an open node", &nodes, &stack);
                }
                ended = true;
            }
            _ => return bad(here, "unknown structure token", &nodes, &stack),
        }
    }
    if nodes.is_empty() {
        return bad(0, "no root node", &nodes, &stack);
    }
    Ok((nodes, pos))
}
