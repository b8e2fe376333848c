//! The shape of a device tree: node names, nesting and property names and lengths.
//! That is all the sizes Linux derives from a tree depend on (the unflattened tree
//! points into the blob for values; prom_init copies values without looking at
//! them), so it is what a predicted tree is built as. Values are kept where known,
//! for the few rules that read them (aliases).

use alloc::string::String;
use alloc::vec::Vec;

use crate::fdt::Tree;

/// A property's value, or only its length when a rule synthesises it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Bytes(&'a [u8]),
    Len(usize),
}

impl Value<'_> {
    pub fn len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Len(n) => *n,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShapeProp<'a> {
    pub name: String,
    pub value: Value<'a>,
}

/// One node: its name as the structure block spells it (`""` for the root), its depth
/// (root 0) and its properties in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShapeNode<'a> {
    pub name: String,
    pub depth: usize,
    pub props: Vec<ShapeProp<'a>>,
}

impl<'a> ShapeNode<'a> {
    pub fn prop(&self, name: &str) -> Option<&ShapeProp<'a>> {
        self.props.iter().find(|p| p.name == name)
    }

    pub fn bytes(&self, name: &str) -> Option<&'a [u8]> {
        match self.prop(name)?.value {
            Value::Bytes(b) => Some(b),
            Value::Len(_) => None,
        }
    }

    /// Sets a property's length, adding it when absent: at the front when a client
    /// sets it (`setprop` through VOF is libfdt's `fdt_setprop`, which puts a new
    /// property first), else at the end (QEMU rebuilding the node). The position
    /// matters once: the first property name prom_init meets (see `layout`).
    pub fn set_len(&mut self, name: &str, len: usize, front: bool) {
        match self.props.iter_mut().find(|p| p.name == name) {
            Some(p) => p.value = Value::Len(len),
            None => {
                let at = if front { 0 } else { self.props.len() };
                self.props.insert(
                    at,
                    ShapeProp {
                        name: name.into(),
                        value: Value::Len(len),
                    },
                );
            }
        }
    }
}

/// Nodes in structure-block (depth-first) order, root first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shape<'a> {
    pub nodes: Vec<ShapeNode<'a>>,
}

impl<'a> Shape<'a> {
    pub fn of(tree: &Tree<'a>) -> Self {
        let nodes = tree
            .nodes
            .iter()
            .map(|n| {
                let (depth, name) = if n.path == "/" {
                    (0, "")
                } else {
                    let depth = n.path.matches('/').count();
                    (depth, n.path.rsplit('/').next().unwrap_or(""))
                };
                ShapeNode {
                    name: name.into(),
                    depth,
                    props: n
                        .props
                        .iter()
                        .map(|p| ShapeProp {
                            name: p.name.into(),
                            value: Value::Bytes(p.value),
                        })
                        .collect(),
                }
            })
            .collect();
        Self { nodes }
    }

    /// Index of the node at a full path such as `/rtas` or `/` (exact names).
    pub fn find(&self, path: &str) -> Option<usize> {
        let want: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut stack: Vec<&str> = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            stack.truncate(n.depth.saturating_sub(1));
            if n.depth > 0 {
                stack.push(&n.name);
            }
            if stack.len() == want.len() && stack == want {
                return Some(i);
            }
        }
        None
    }

    /// Indices of the children of node `i`.
    pub fn children(&self, i: usize) -> Vec<usize> {
        let Some(parent) = self.nodes.get(i) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (j, n) in self.nodes.iter().enumerate().skip(i + 1) {
            if n.depth <= parent.depth {
                break;
            }
            if n.depth == parent.depth + 1 {
                out.push(j);
            }
        }
        out
    }
}
