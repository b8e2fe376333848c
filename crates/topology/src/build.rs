//! The facts of a kernel build that the booted tree depends on.
//!
//! Two numbers decide what a pseries guest's tree costs before the per-CPU structures
//! are placed: `PAGE_SIZE`, to which prom_init rounds every claim and every block of
//! the blob it flattens (so the blob's size, its address above the kernel and the RTAS
//! reservation), and the sizes of the structures `unflatten_device_tree` and
//! `of_alias_scan` carve out of one early allocation (so the bytes they ask memblock
//! for). Both change between kernel versions and configurations; nothing in the
//! device tree says which kernel reads it, so the caller names the build.

use crate::unflatten::{SIZEOF_ALIAS_PROP, SIZEOF_DEVICE_NODE, SIZEOF_PROPERTY};

/// A kernel build, as far as the flattened and unflattened device tree are concerned.
///
/// The struct sizes are those of an LP64 kernel with `CONFIG_OF_KOBJ=y`,
/// `CONFIG_OF_DYNAMIC=y` and neither `CONFIG_OF_PROMTREE` nor `CONFIG_SPARC` (the
/// members those add are not in any Debian ppc64le build); their alignment is the
/// pointer's, 8, in every such build. Use one of the named builds, or fill the fields
/// from another kernel's headers and configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OfBuild {
    /// `PAGE_SIZE` in bytes: 4 KiB with `CONFIG_PPC_4K_PAGES`, 64 KiB with
    /// `CONFIG_PPC_64K_PAGES`. Must be a power of two for a prediction (prom_init
    /// rounds with masks).
    pub page_size: u64,
    /// `sizeof(struct device_node)` (include/linux/of.h).
    pub sizeof_device_node: u64,
    /// `sizeof(struct property)` (include/linux/of.h).
    pub sizeof_property: u64,
    /// `sizeof(struct alias_prop)` (drivers/of/of_private.h), without its stem.
    pub sizeof_alias_prop: u64,
}

impl OfBuild {
    /// Debian 12's `linux-image-6.1.0-*-powerpc64le` (Linux 6.1, `CONFIG_PPC_64K_PAGES`;
    /// bookworm's only ppc64el flavour).
    ///
    /// * `page_size` 64 KiB.
    /// * `struct device_node` 208: `name` 8, `phandle` 4 and 4 of padding, `full_name`
    ///   8, `struct fwnode_handle` 64 (`secondary`, `ops`, `dev` 3x8, the `suppliers`
    ///   and `consumers` list heads 2x16, `flags` 8), `properties`, `deadprops`,
    ///   `parent`, `child`, `sibling` 5x8, `struct kobject` 64 (`name` 8, `entry` 16,
    ///   `parent`, `kset`, `ktype`, `sd` 4x8, `kref` 4, five one-bit flags in an
    ///   `unsigned int` 4; no `CONFIG_DEBUG_KOBJECT_RELEASE`), `_flags` 8, `data` 8.
    /// * `struct property` 104: `name` 8, `length` 4 and 4 of padding, `value` 8,
    ///   `next` 8, `_flags` 8, then `struct bin_attribute` 64: `struct attribute` 16
    ///   (`name` 8, `mode` 2, padding; no `CONFIG_DEBUG_LOCK_ALLOC`) and six 8-byte
    ///   members (`size`, `private`, `f_mapping`, `read`, `write`, `mmap`).
    /// * `struct alias_prop` 40: `link` 16, `alias` 8, `np` 8, `id` 4, the flexible
    ///   `stem[]` at 36, the whole padded to 8.
    ///
    /// The 6.1 boots in `fixtures/linux-6.1/` log exactly the requests these give.
    pub const DEBIAN_6_1_64K: Self = Self {
        page_size: 64 << 10,
        sizeof_device_node: SIZEOF_DEVICE_NODE,
        sizeof_property: SIZEOF_PROPERTY,
        sizeof_alias_prop: SIZEOF_ALIAS_PROP,
    };

    /// Debian 13's `linux-image-6.12.*-powerpc64le-64k` (Linux 6.12,
    /// `CONFIG_PPC_64K_PAGES`).
    ///
    /// * `page_size` 64 KiB.
    /// * `struct device_node` 208, `struct alias_prop` 40: their members, and those
    ///   of `struct fwnode_handle` and `struct kobject`, are as in 6.1
    ///   ([`OfBuild::DEBIAN_6_1_64K`]).
    /// * `struct property` 112: 6.12's `struct bin_attribute` has a seventh 8-byte
    ///   member, the `llseek` callback between `write` and `mmap`, so it is 72 bytes
    ///   and the property 40 + 72.
    ///
    /// The 6.12 boots in `fixtures/linux-6.12/` log exactly the requests these give.
    pub const DEBIAN_6_12_64K: Self = Self {
        page_size: 64 << 10,
        sizeof_device_node: 208,
        sizeof_property: 112,
        sizeof_alias_prop: 40,
    };

    /// Debian 13's `linux-image-6.12.*-powerpc64le` (Linux 6.12,
    /// `CONFIG_PPC_4K_PAGES`; trixie's default ppc64el flavour).
    ///
    /// * `page_size` 4 KiB.
    /// * The struct sizes of [`OfBuild::DEBIAN_6_12_64K`] (208, 112, 40): the page size
    ///   changes none of their members.
    pub const DEBIAN_6_12_4K: Self = Self {
        page_size: 4 << 10,
        ..Self::DEBIAN_6_12_64K
    };
}

impl Default for OfBuild {
    /// [`OfBuild::DEBIAN_6_1_64K`], the build the build-less functions model.
    fn default() -> Self {
        Self::DEBIAN_6_1_64K
    }
}
