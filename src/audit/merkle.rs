//! Merkle trees as RFC 9162 §2.1 defines them (Certificate Transparency v2): the tree shape,
//! inclusion and consistency proofs and their verification, with no storage of their own.
//!
//! The shape is always RFC 9162's: the tree over leaves `[a, b)` splits at the largest power of
//! two below `b - a`, so every subtree that proofs name is a *range* of leaves, and every range
//! is made of *perfect* subtrees (a power-of-two number of leaves, aligned to it). Callers that
//! keep trees in a database store only perfect subtrees; [`Ranges`] says which ones a proof
//! needs, and the proof is then computed from them without another round trip.
//!
//! Two hash conventions share that shape ([`Hashing`]): RFC 9162's, with one-byte domain
//! prefixes, for the audit trail; and the OpenIntent SDK's (RFC-0019 `MerkleProof.verify()`),
//! which hashes nodes without a prefix and takes each event hash as its own leaf.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// How leaves and interior nodes are hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashing {
    /// RFC 9162 §2.1.1: leaf `SHA-256(0x00 ‖ input)`, node `SHA-256(0x01 ‖ left ‖ right)`.
    Rfc9162,
    /// The OpenIntent SDK's verifier: the leaf is the 32-byte input itself, a node is
    /// `SHA-256(left ‖ right)`.
    Unprefixed,
}

impl Hashing {
    pub fn leaf(self, input: &[u8]) -> Hash {
        match self {
            Hashing::Rfc9162 => Sha256::new()
                .chain_update([0])
                .chain_update(input)
                .finalize(),
            Hashing::Unprefixed => match <Hash>::try_from(input) {
                Ok(hash) => return hash,
                Err(_) => Sha256::digest(input),
            },
        }
        .into()
    }

    pub fn node(self, left: &Hash, right: &Hash) -> Hash {
        let hasher = match self {
            Hashing::Rfc9162 => Sha256::new().chain_update([1]),
            Hashing::Unprefixed => Sha256::new(),
        };
        hasher
            .chain_update(left)
            .chain_update(right)
            .finalize()
            .into()
    }

    /// The root of the empty tree: `SHA-256()` (RFC 9162 §2.1.1).
    pub fn empty_root(self) -> Hash {
        Sha256::digest([]).into()
    }
}

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub level: u32,
    pub index: u64,
}

impl Node {
    pub fn first_leaf(self) -> u64 {
        self.index << self.level
    }

    pub fn end_leaf(self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up the range `[a, b)` of a tree, left to right.
pub fn perfect_pieces(a: u64, b: u64) -> Vec<Node> {
    let mut pieces = Vec::new();
    let mut pending = vec![(a, b)];
    while let Some((start, end)) = pending.pop() {
        let size = end - start;
        if size.is_power_of_two() && start % size == 0 {
            pieces.push(Node {
                level: size.trailing_zeros(),
                index: start / size,
            });
        } else if size > 0 {
            let k = split(size);
            // Right first: the stack pops the left half next.
            pending.push((start + k, end));
            pending.push((start, start + k));
        }
    }
    pieces
}

/// The leaf ranges whose subtree hashes a proof is made of, in proof order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranges(pub Vec<(u64, u64)>);

impl Ranges {
    /// RFC 9162 §2.1.3.1 `PATH(m, D[n])`: the inclusion proof of leaf `m` in a tree of `n`.
    pub fn inclusion(m: u64, n: u64) -> Ranges {
        let mut out = Vec::new();
        let (mut start, mut end) = (0, n);
        // Walk down from the root; the proof lists siblings from the leaf up.
        while end - start > 1 {
            let k = split(end - start);
            if m < start + k {
                out.push((start + k, end));
                end = start + k;
            } else {
                out.push((start, start + k));
                start += k;
            }
        }
        out.reverse();
        Ranges(out)
    }

    /// RFC 9162 §2.1.4.1 `PROOF(m, D[n])`: the consistency proof from size `m` to size `n`.
    pub fn consistency(m: u64, n: u64) -> Ranges {
        let mut out = Vec::new();
        if 0 < m && m < n {
            subproof(m, 0, n, true, &mut out);
        }
        Ranges(out)
    }

    /// Every perfect subtree the ranges need.
    pub fn nodes(&self) -> Vec<Node> {
        let mut nodes: Vec<Node> = self
            .0
            .iter()
            .flat_map(|&(a, b)| perfect_pieces(a, b))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The proof's hashes, given the hash of every node [`Ranges::nodes`] named; `None` when
    /// one is missing.
    pub fn hashes(&self, hashing: Hashing, known: &HashMap<Node, Hash>) -> Option<Vec<Hash>> {
        self.0
            .iter()
            .map(|&(a, b)| range_hash(hashing, a, b, known))
            .collect()
    }
}

/// `SUBPROOF(m, D[start:end], complete)` with absolute leaf positions.
fn subproof(m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    if m == end {
        if !complete {
            out.push((start, end));
        }
        return;
    }
    let k = split(end - start);
    if m - start <= k {
        subproof(m, start, start + k, complete, out);
        out.push((start + k, end));
    } else {
        subproof(m, start + k, end, false, out);
        out.push((start, start + k));
    }
}

/// The hash of the subtree over `[a, b)` from the hashes of its perfect pieces.
pub fn range_hash(hashing: Hashing, a: u64, b: u64, known: &HashMap<Node, Hash>) -> Option<Hash> {
    let pieces = perfect_pieces(a, b);
    // The pieces shrink left to right, so the range's hash folds them from the right.
    let mut hashes = pieces.iter().rev().map(|node| known.get(node).copied());
    let mut acc = hashes.next()??;
    for left in hashes {
        acc = hashing.node(&left?, &acc);
    }
    Some(acc)
}

/// The root of a tree over `leaves` (leaf hashes), built in memory: for trees that are small
/// or tests.
pub fn root_of(hashing: Hashing, leaves: &[Hash]) -> Hash {
    let mut edge = Edge::default();
    for leaf in leaves {
        edge.push(hashing, *leaf);
    }
    edge.root(hashing)
}

/// The right edge of a tree: the hashes of the perfect subtrees its size decomposes into,
/// largest (leftmost) first. Enough to append leaves and to compute the root, so a tree
/// grows one leaf at a time without reading anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edge {
    pub size: u64,
    pub hashes: Vec<Hash>,
}

impl Edge {
    /// Appends a leaf hash; returns the perfect subtrees the append completed (the leaf
    /// itself first, then each subtree it closed, lowest first).
    pub fn push(&mut self, hashing: Hashing, leaf: Hash) -> Vec<(Node, Hash)> {
        let index = self.size;
        let mut completed = vec![(Node { level: 0, index }, leaf)];
        let mut carry = leaf;
        let mut level = 0;
        while (index >> level) & 1 == 1 {
            let left = self
                .hashes
                .pop()
                .expect("a set bit of the size has an edge hash");
            carry = hashing.node(&left, &carry);
            level += 1;
            completed.push((
                Node {
                    level,
                    index: index >> level,
                },
                carry,
            ));
        }
        self.hashes.push(carry);
        self.size += 1;
        completed
    }

    /// The perfect subtrees of the edge, left to right.
    pub fn nodes(&self) -> Vec<Node> {
        perfect_pieces(0, self.size)
    }

    pub fn root(&self, hashing: Hashing) -> Hash {
        let mut hashes = self.hashes.iter().rev();
        let Some(last) = hashes.next() else {
            return hashing.empty_root();
        };
        hashes.fold(*last, |acc, left| hashing.node(left, &acc))
    }
}

/// RFC 9162 §2.1.3.2: does `path` prove leaf `leaf_index` (hash `leaf`) in the tree of
/// `tree_size` with root `root`?
pub fn verify_inclusion(
    hashing: Hashing,
    leaf_index: u64,
    tree_size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut f, mut s) = (leaf_index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = hashing.node(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = hashing.node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: does `path` prove that the tree of `first` leaves (root `first_root`)
/// is a prefix of the tree of `second` leaves (root `second_root`)?
pub fn verify_consistency(
    hashing: Hashing,
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return path.is_empty() && first_root == second_root;
    }
    if first == 0 {
        // Every tree extends the empty one.
        return path.is_empty();
    }
    let mut path = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let Some((seed, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = hashing.node(c, &fr);
            sr = hashing.node(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = hashing.node(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && fr == *first_root && sr == *second_root
}

/// The side each inclusion-path hash sits on, leaf upwards (`true`: the sibling is on the
/// left), as the OpenIntent SDK's per-step proof entries name it.
pub fn inclusion_sides(leaf_index: u64, tree_size: u64) -> Vec<bool> {
    let mut sides = Vec::new();
    let (mut start, mut end) = (0, tree_size);
    while end - start > 1 {
        let k = split(end - start);
        if leaf_index < start + k {
            sides.push(false);
            end = start + k;
        } else {
            sides.push(true);
            start += k;
        }
    }
    sides.reverse();
    sides
}

/// Lowercase hex of a hash.
pub fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash from 64 hex digits.
pub fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Certificate Transparency test leaves (RFC 6962 reference implementation), whose
    /// roots, inclusion and consistency proofs are published.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    /// (leaf index, tree size, path)
    const INCLUSION: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    /// (first size, second size, path)
    const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    fn bytes(hex_text: &str) -> Vec<u8> {
        (0..hex_text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex_text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn leaves(hashing: Hashing, inputs: &[Vec<u8>]) -> Vec<Hash> {
        inputs.iter().map(|input| hashing.leaf(input)).collect()
    }

    fn ct_leaves() -> Vec<Hash> {
        let inputs: Vec<Vec<u8>> = LEAVES.iter().map(|l| bytes(l)).collect();
        leaves(Hashing::Rfc9162, &inputs)
    }

    /// Every node of an in-memory tree, as a store of perfect subtrees would hold them.
    fn all_nodes(hashing: Hashing, leaves: &[Hash]) -> HashMap<Node, Hash> {
        let mut edge = Edge::default();
        leaves
            .iter()
            .flat_map(|leaf| edge.push(hashing, *leaf))
            .collect()
    }

    fn proof(ranges: Ranges, hashing: Hashing, leaves: &[Hash]) -> Vec<String> {
        let known = all_nodes(hashing, leaves);
        let needed = ranges.nodes();
        assert!(needed.iter().all(|node| known.contains_key(node)));
        let hashes = ranges.hashes(hashing, &known).unwrap();
        hashes.iter().map(hex).collect()
    }

    #[test]
    fn roots_match_the_published_vectors() {
        let leaves = ct_leaves();
        for (size, root) in ROOTS.iter().enumerate() {
            assert_eq!(hex(&root_of(Hashing::Rfc9162, &leaves[..size])), *root);
        }
    }

    #[test]
    fn inclusion_proofs_match_the_published_vectors_and_verify() {
        let leaves = ct_leaves();
        for (index, size, path) in INCLUSION {
            let computed = proof(
                Ranges::inclusion(index, size),
                Hashing::Rfc9162,
                &leaves[..size as usize],
            );
            assert_eq!(computed, path, "leaf {index} of {size}");
            let path: Vec<Hash> = path.iter().map(|p| from_hex(p).unwrap()).collect();
            let root = from_hex(ROOTS[size as usize]).unwrap();
            let leaf = leaves[index as usize];
            assert!(verify_inclusion(
                Hashing::Rfc9162,
                index,
                size,
                &leaf,
                &path,
                &root
            ));
            // Another leaf or another root does not verify.
            let other = leaves[(index as usize + 1) % size as usize];
            assert!(!verify_inclusion(
                Hashing::Rfc9162,
                index,
                size,
                &other,
                &path,
                &root
            ));
            let wrong_root = from_hex(ROOTS[0]).unwrap();
            assert!(!verify_inclusion(
                Hashing::Rfc9162,
                index,
                size,
                &leaf,
                &path,
                &wrong_root
            ));
        }
    }

    #[test]
    fn consistency_proofs_match_the_published_vectors_and_verify() {
        let leaves = ct_leaves();
        for (first, second, path) in CONSISTENCY {
            let computed = proof(
                Ranges::consistency(first, second),
                Hashing::Rfc9162,
                &leaves[..second as usize],
            );
            assert_eq!(computed, path, "{first} -> {second}");
            let path: Vec<Hash> = path.iter().map(|p| from_hex(p).unwrap()).collect();
            let (a, b) = (
                from_hex(ROOTS[first as usize]).unwrap(),
                from_hex(ROOTS[second as usize]).unwrap(),
            );
            assert!(verify_consistency(
                Hashing::Rfc9162,
                first,
                second,
                &a,
                &b,
                &path
            ));
            if first != second {
                // A rewritten history: the old root is not a prefix of the new tree.
                let rewritten = from_hex(ROOTS[first as usize - 1]).unwrap();
                assert!(!verify_consistency(
                    Hashing::Rfc9162,
                    first,
                    second,
                    &rewritten,
                    &b,
                    &path
                ));
            }
        }
    }

    /// Every leaf of every tree up to 70 leaves, and every pair of sizes: the proofs computed
    /// from perfect subtrees verify, for both hash conventions.
    #[test]
    fn proofs_of_every_shape_verify() {
        for hashing in [Hashing::Rfc9162, Hashing::Unprefixed] {
            let inputs: Vec<Vec<u8>> = (0..70u32).map(|i| i.to_be_bytes().repeat(8)).collect();
            let all = leaves(hashing, &inputs);
            let known = all_nodes(hashing, &all);
            for n in 1..=all.len() as u64 {
                let root = root_of(hashing, &all[..n as usize]);
                assert_eq!(range_hash(hashing, 0, n, &known), Some(root));
                for m in 0..n {
                    let path = Ranges::inclusion(m, n).hashes(hashing, &known).unwrap();
                    assert!(verify_inclusion(
                        hashing,
                        m,
                        n,
                        &all[m as usize],
                        &path,
                        &root
                    ));
                    let first = m + 1;
                    let first_root = root_of(hashing, &all[..first as usize]);
                    let path = Ranges::consistency(first, n)
                        .hashes(hashing, &known)
                        .unwrap();
                    assert!(
                        verify_consistency(hashing, first, n, &first_root, &root, &path),
                        "{first} -> {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_edge_grows_into_the_same_tree() {
        let leaves = ct_leaves();
        let mut edge = Edge::default();
        for (size, leaf) in leaves.iter().enumerate() {
            assert_eq!(hex(&edge.root(Hashing::Rfc9162)), ROOTS[size]);
            edge.push(Hashing::Rfc9162, *leaf);
        }
        assert_eq!(edge.nodes().len(), edge.hashes.len());
        assert_eq!(hex(&edge.root(Hashing::Rfc9162)), ROOTS[8]);
    }

    /// The OpenIntent SDK folds a proof step by step, the sibling's side named per step
    /// (`MerkleProof.verify()`): the sides here reproduce the root with its algorithm.
    #[test]
    fn sides_fold_like_the_sdk_verifier() {
        let hashing = Hashing::Unprefixed;
        let all: Vec<Hash> = (0..13u8).map(|i| Sha256::digest([i]).into()).collect();
        let known = all_nodes(hashing, &all);
        for n in 1..=13u64 {
            let root = root_of(hashing, &all[..n as usize]);
            for m in 0..n {
                let path = Ranges::inclusion(m, n).hashes(hashing, &known).unwrap();
                let sides = inclusion_sides(m, n);
                let folded = path
                    .iter()
                    .zip(sides)
                    .fold(all[m as usize], |acc, (p, left)| {
                        if left {
                            hashing.node(p, &acc)
                        } else {
                            hashing.node(&acc, p)
                        }
                    });
                assert_eq!(folded, root);
            }
        }
    }
}
