//! A minimal FDT writer for building bad (and good) blobs in tests, so that no test
//! needs dtc on the machine running it.

#![allow(dead_code)]

pub mod boots;

/// A node under construction.
#[derive(Clone, Default)]
pub struct N {
    pub name: String,
    pub props: Vec<(String, Vec<u8>)>,
    pub children: Vec<N>,
}

pub fn cells(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|c| c.to_be_bytes()).collect()
}

pub fn string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

impl N {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Default::default()
        }
    }

    pub fn p(mut self, name: &str, value: Vec<u8>) -> Self {
        self.props.push((name.into(), value));
        self
    }

    pub fn c(mut self, child: N) -> Self {
        self.children.push(child);
        self
    }

    /// The child at a `/`-separated relative path.
    pub fn at(&mut self, path: &str) -> &mut N {
        let mut cur = self;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let i = cur.children.iter().position(|c| c.name == part).unwrap();
            cur = &mut cur.children[i];
        }
        cur
    }

    /// Replaces (or adds) a property of the node at `path`.
    pub fn set(&mut self, path: &str, name: &str, value: Vec<u8>) {
        let n = self.at(path);
        match n.props.iter_mut().find(|p| p.0 == name) {
            Some(p) => p.1 = value,
            None => n.props.push((name.into(), value)),
        }
    }

    pub fn remove(&mut self, path: &str, name: &str) {
        self.at(path).props.retain(|p| p.0 != name);
    }
}

fn pad(v: &mut Vec<u8>) {
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

fn emit(n: &N, st: &mut Vec<u8>, strings: &mut Vec<u8>) {
    st.extend(1u32.to_be_bytes());
    st.extend(n.name.as_bytes());
    st.push(0);
    pad(st);
    for (name, value) in &n.props {
        let off = match find_str(strings, name) {
            Some(o) => o,
            None => {
                let o = strings.len();
                strings.extend(name.as_bytes());
                strings.push(0);
                o
            }
        };
        st.extend(3u32.to_be_bytes());
        st.extend((value.len() as u32).to_be_bytes());
        st.extend((off as u32).to_be_bytes());
        st.extend(value);
        pad(st);
    }
    for c in &n.children {
        emit(c, st, strings);
    }
    st.extend(2u32.to_be_bytes());
}

fn find_str(strings: &[u8], name: &str) -> Option<usize> {
    let mut at = 0;
    for s in strings.split(|&b| b == 0) {
        if s == name.as_bytes() {
            return Some(at);
        }
        at += s.len() + 1;
    }
    None
}

/// Serializes a tree as a version-17 blob with boot CPU `boot`.
pub fn blob(root: &N, boot: u32) -> Vec<u8> {
    let mut st = Vec::new();
    let mut strings = Vec::new();
    emit(root, &mut st, &mut strings);
    st.extend(9u32.to_be_bytes());
    let rsv = 40usize;
    let off_struct = rsv + 16;
    let off_strings = off_struct + st.len();
    let total = off_strings + strings.len();
    let mut out = Vec::new();
    for v in [
        0xd00d_feed,
        total as u32,
        off_struct as u32,
        off_strings as u32,
        rsv as u32,
        17,
        16,
        boot,
        strings.len() as u32,
        st.len() as u32,
    ] {
        out.extend(u32::to_be_bytes(v));
    }
    out.extend([0u8; 16]);
    out.extend(st);
    out.extend(strings);
    out
}

/// A small good post-CAS pSeries guest: two nodes, one SMT2 CPU node each, 1 GiB each,
/// FORM1 negotiated (`ibm,architecture-vec-5` byte 5 = 0x80, OV5_FORM1_AFFINITY) and
/// reference points <4 3 2 1> as QEMU writes them.
pub fn guest() -> N {
    let cpu = |at: u32, node: u32| {
        N::new(&format!("PowerPC,POWER9@{at:x}"))
            .p("device_type", string("cpu"))
            .p("reg", cells(&[at]))
            .p("ibm,ppc-interrupt-server#s", cells(&[at, at + 1]))
            .p("ibm,associativity", cells(&[5, 0, 0, 0, node, at]))
            .p("cpu-version", cells(&[0x004e_1200]))
    };
    N::new("")
        .p("#address-cells", cells(&[2]))
        .p("#size-cells", cells(&[2]))
        .p("compatible", string("qemu,pseries"))
        .c(N::new("chosen").p("ibm,architecture-vec-5", vec![0, 0, 0, 0, 0, 0x80]))
        .c(N::new("rtas").p("ibm,associativity-reference-points", cells(&[4, 3, 2, 1])))
        .c(N::new("cpus")
            .p("#address-cells", cells(&[1]))
            .p("#size-cells", cells(&[0]))
            .c(cpu(0, 0))
            .c(cpu(8, 1)))
        .c(N::new("memory@0")
            .p("device_type", string("memory"))
            .p("reg", cells(&[0, 0, 1, 0]))
            .p("ibm,associativity", cells(&[4, 0, 0, 0, 0])))
        .c(N::new("memory@100000000")
            .p("device_type", string("memory"))
            .p("reg", cells(&[1, 0, 1, 0]))
            .p("ibm,associativity", cells(&[4, 0, 0, 0, 1])))
}
