//! How much memory Linux's `unflatten_device_tree` (drivers/of/fdt.c) asks memblock
//! for, and the `of_alias_scan` allocations that follow it, for a given kernel build
//! ([`OfBuild`]); the build-less functions are Debian's 6.1 ppc64le kernel
//! (`config-6.1.0-50-powerpc64le`). The rules below are the same in 6.1 and 6.12;
//! only the struct sizes differ.
//!
//! `__unflatten_device_tree` first runs `unflatten_dt_nodes` with no memory (a dry run
//! from address 0): per node `populate_node` takes `sizeof(struct device_node)` plus
//! the node's name and its NUL, then `populate_properties` takes one
//! `struct property` per property and, for a node without a `name` property (every
//! node of prom_init's version 16 tree), one more with the name's unit-address-free
//! part and a NUL appended; each piece is aligned to its struct's alignment first.
//! The total is rounded up to 4 and 4 more bytes hold the `0xdeadbeef` overrun marker:
//! that is the `early_init_dt_alloc_memory_arch` request, aligned to
//! `__alignof__(struct device_node)`. Values are not copied; they stay in the blob.
//! Before that, `early_init_dt_scan_chosen` has overwritten a non-empty
//! `/chosen/rng-seed` with `FDT_NOP`s (so that the seed cannot be read again), so that
//! property is not unflattened; QEMU always passes one.
//!
//! The constants below are for the 6.1 kernel's configuration: `CONFIG_OF_KOBJ=y`
//! (from `CONFIG_SYSFS`: every node is unflattened, available or not, and both
//! structs carry sysfs members), `CONFIG_OF_DYNAMIC=y`, no `CONFIG_OF_PROMTREE`, no
//! `CONFIG_SPARC`, no `CONFIG_DEBUG_KOBJECT_RELEASE`, no `CONFIG_DEBUG_LOCK_ALLOC`;
//! LP64 (8-byte pointers, `long` and `size_t`). Boots of eight differently shaped
//! guests log exactly the sizes this gives (see the tests); [`OfBuild`] has the 6.12
//! ones.

use alloc::string::String;
use alloc::vec::Vec;

use phys::PhysSize;

use crate::build::OfBuild;
use crate::error::DtbError;
use crate::fdt::Tree;
use crate::shape::{Shape, ShapeNode};

/// Debian 6.1's `sizeof(struct device_node)`, the same in 6.12: `name` 8, `phandle`
/// 4 (+4 padding), `full_name` 8, `struct fwnode_handle` 64 (`secondary`, `ops`,
/// `dev` 3x8, `suppliers` and `consumers` list heads 2x16, `flags` 8), `properties`,
/// `deadprops`, `parent`, `child`, `sibling` 5x8, `struct kobject` 64 (`name` 8,
/// `entry` 16, `parent`, `kset`, `ktype`, `sd` 4x8, `kref` 4, five one-bit flags in
/// one `unsigned int` 4), `_flags` 8, `data` 8: 8+8+8+64+40+64+8+8 = 208.
pub const SIZEOF_DEVICE_NODE: u64 = 208;
/// `__alignof__(struct device_node)`: its widest members are pointers.
pub const ALIGNOF_DEVICE_NODE: u64 = 8;
/// Debian 6.1's `sizeof(struct property)` (6.12's is 112, see
/// [`OfBuild::DEBIAN_6_12_64K`]): `name` 8, `length` 4 (+4 padding), `value` 8,
/// `next` 8, `_flags` 8 (`CONFIG_OF_DYNAMIC`), `struct bin_attribute attr` 64
/// (`struct attribute` 16 = `name` 8 + `mode` 2 + padding; `size`, `private`,
/// `f_mapping`, `read`, `write`, `mmap` 6x8): 40 + 64 = 104.
pub const SIZEOF_PROPERTY: u64 = 104;
/// `__alignof__(struct property)`.
pub const ALIGNOF_PROPERTY: u64 = 8;
/// Debian 6.1's `sizeof(struct alias_prop)`, the same in 6.12: `link` 16, `alias` 8,
/// `np` 8, `id` 4, then the flexible `stem[]` at offset 36, the struct padded to its
/// 8-byte alignment: 40.
pub const SIZEOF_ALIAS_PROP: u64 = 40;
/// `__alignof__(struct alias_prop)`.
pub const ALIGNOF_ALIAS_PROP: u64 = 8;

/// `FDT_MAX_DEPTH` in `unflatten_dt_nodes`: nodes at depth 63 or deeper are skipped
/// (with a warning) rather than unflattened.
const FDT_MAX_DEPTH: usize = 64;
/// `of_find_node_by_path` follows an alias whose value names another alias; Linux
/// recurses without limit, numaboot stops here and treats the alias as unresolved.
const MAX_ALIAS_HOPS: usize = 8;

/// One early `memblock_alloc` made through `early_init_dt_alloc_memory_arch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarlyAlloc {
    /// Bytes requested.
    pub size: PhysSize,
    /// Alignment requested.
    pub align: u64,
    /// What it is for: `"device tree"` or `"alias <name>"`.
    pub what: String,
}

/// The allocations `unflatten_device_tree` makes, in order: the tree, then one
/// `struct alias_prop` per usable `/aliases` property (`of_alias_scan`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnflattenAllocs {
    /// The unflattened tree (`__unflatten_device_tree`).
    pub tree: EarlyAlloc,
    /// `of_alias_scan`'s allocations, in `/aliases` property order.
    pub aliases: Vec<EarlyAlloc>,
}

/// The number of bytes Debian 6.1's `unflatten_device_tree` requests for this blob:
/// [`unflattened_size_for`] with [`OfBuild::DEBIAN_6_1_64K`].
pub fn unflattened_size(blob: &[u8]) -> Result<PhysSize, DtbError> {
    unflattened_size_for(blob, &OfBuild::DEBIAN_6_1_64K)
}

/// Every early allocation Debian 6.1's `unflatten_device_tree` makes for this blob:
/// [`unflatten_allocations_for`] with [`OfBuild::DEBIAN_6_1_64K`].
pub fn unflatten_allocations(blob: &[u8]) -> Result<UnflattenAllocs, DtbError> {
    unflatten_allocations_for(blob, &OfBuild::DEBIAN_6_1_64K)
}

/// The number of bytes `unflatten_device_tree` of `build` requests for this blob.
pub fn unflattened_size_for(blob: &[u8], build: &OfBuild) -> Result<PhysSize, DtbError> {
    Ok(unflatten_allocations_for(blob, build)?.tree.size)
}

/// Every early allocation `unflatten_device_tree` of `build` makes for this blob (the
/// page size plays no part).
pub fn unflatten_allocations_for(
    blob: &[u8],
    build: &OfBuild,
) -> Result<UnflattenAllocs, DtbError> {
    let tree = Tree::parse(blob)?;
    Ok(allocations(&Shape::of(&tree), build))
}

fn align(x: u64, a: u64) -> u64 {
    x.div_ceil(a).saturating_mul(a)
}

/// The `name` value `populate_properties` makes up: the node name up to its last `@`.
fn made_up_name_len(name: &str) -> u64 {
    let base = name
        .rfind('@')
        .map_or(name, |at| name.get(..at).unwrap_or(name));
    base.len() as u64 + 1
}

pub(crate) fn tree_size(shape: &Shape<'_>, build: &OfBuild) -> u64 {
    let chosen = shape.find("/chosen").or_else(|| shape.find("/chosen@0"));
    let mut mem = 0u64;
    for (i, node) in shape.nodes.iter().enumerate() {
        if node.depth >= FDT_MAX_DEPTH - 1 {
            continue;
        }
        // fdt_nop_property removes the first rng-seed, when it is not empty.
        let nopped = if Some(i) == chosen {
            node.props
                .iter()
                .position(|p| p.name == "rng-seed")
                .filter(|&j| node.props.get(j).is_some_and(|p| p.value.len() > 0))
        } else {
            None
        };
        let name_len = node.name.len() as u64 + 1;
        mem = align(mem, ALIGNOF_DEVICE_NODE)
            .saturating_add(build.sizeof_device_node.saturating_add(name_len));
        for j in 0..node.props.len() {
            if Some(j) != nopped {
                mem = align(mem, ALIGNOF_PROPERTY).saturating_add(build.sizeof_property);
            }
        }
        if node.prop("name").is_none() {
            let len = made_up_name_len(&node.name);
            mem = align(mem, ALIGNOF_PROPERTY)
                .saturating_add(build.sizeof_property.saturating_add(len));
        }
    }
    align(mem, 4).saturating_add(4)
}

pub(crate) fn allocations(shape: &Shape<'_>, build: &OfBuild) -> UnflattenAllocs {
    UnflattenAllocs {
        tree: EarlyAlloc {
            size: PhysSize::new(tree_size(shape, build)),
            align: ALIGNOF_DEVICE_NODE,
            what: "device tree".into(),
        },
        aliases: alias_allocs(shape, build),
    }
}

/// `of_alias_scan`: for each `/aliases` property other than `name`, `phandle` and
/// `linux,phandle` whose value is a path `of_find_node_by_path` resolves and whose
/// name ends in a decimal id that fits an `int`, one `alias_prop` with room for the
/// stem (the name without the id) and a NUL.
fn alias_allocs(shape: &Shape<'_>, build: &OfBuild) -> Vec<EarlyAlloc> {
    let Some(aliases) = shape.find("/aliases").and_then(|i| shape.nodes.get(i)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in &aliases.props {
        if matches!(p.name.as_str(), "name" | "phandle" | "linux,phandle") {
            continue;
        }
        let Some(value) = aliases.bytes(&p.name) else {
            continue;
        };
        if resolve(shape, aliases, c_str(value), 0).is_none() {
            continue;
        }
        let stem = p.name.trim_end_matches(|c: char| c.is_ascii_digit());
        let digits = p.name.get(stem.len()..).unwrap_or("");
        // kstrtoint: at least one digit, and the value must fit an int.
        if digits.is_empty() || digits.parse::<i32>().is_err() {
            continue;
        }
        out.push(EarlyAlloc {
            size: PhysSize::new(
                build
                    .sizeof_alias_prop
                    .saturating_add(stem.len() as u64 + 1),
            ),
            align: ALIGNOF_ALIAS_PROP,
            what: alloc::format!("alias {}", p.name),
        });
    }
    out
}

/// A property value read as Linux reads a C string: up to the first NUL.
fn c_str(v: &[u8]) -> &[u8] {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    v.get(..end).unwrap_or(v)
}

/// `of_find_node_opts_by_path`: `/` is the root; a path not starting with `/` starts
/// with an alias name (up to the first `:`, or else the first `/`); then each `/name`
/// component must name a child exactly, an empty component matches nothing, and a
/// `:` ends the walk (what follows is options).
fn resolve(shape: &Shape<'_>, aliases: &ShapeNode<'_>, path: &[u8], hops: usize) -> Option<usize> {
    if hops > MAX_ALIAS_HOPS {
        return None;
    }
    if path == b"/" {
        return Some(0);
    }
    let sep = path.iter().position(|&b| b == b':');
    let next_slash = |from: usize| {
        path.iter()
            .skip(from)
            .position(|&b| b == b'/')
            .map_or(path.len(), |i| i + from)
    };
    let (mut node, mut at) = if path.first() == Some(&b'/') {
        (0usize, 0usize)
    } else {
        let end = sep.unwrap_or_else(|| next_slash(0));
        let head = path.get(..end)?;
        let target = aliases
            .props
            .iter()
            .find(|p| p.name.as_bytes() == head)
            .and_then(|p| aliases.bytes(&p.name))?;
        (resolve(shape, aliases, c_str(target), hops + 1)?, end)
    };
    while path.get(at) == Some(&b'/') {
        at += 1;
        let len = path
            .iter()
            .skip(at)
            .position(|&b| b == b'/' || b == b':')
            .unwrap_or(path.len() - at);
        if len == 0 {
            return None;
        }
        let comp = path.get(at..at + len)?;
        node = shape.children(node).into_iter().find(|&c| {
            shape
                .nodes
                .get(c)
                .is_some_and(|n| n.name.as_bytes() == comp)
        })?;
        at = next_slash(at);
        if sep.is_some_and(|s| s < at) {
            break;
        }
    }
    Some(node)
}
