//! The Merkle tree of RFC 9162 §2.1 (Certificate Transparency 2.0) over
//! SHA-256: leaf and node hashes, the tree head of any prefix, and the
//! inclusion (§2.1.3) and consistency (§2.1.4) proofs with their checks.
//!
//! Written here rather than taken from a crate: `ct-merkle` and `rs_merkle`
//! build proofs over their own in-memory trees, while a transcript's leaf
//! hashes live in PostgreSQL and its proofs come back from clients as JSON
//! to be checked; the algorithms are a page of the RFC, checked below
//! against the reference vectors of transparency-dev/merkle.

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf, node or tree hash.
pub type Hash = [u8; 32];

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A hash from its 64 hex digits (either case); `None` for anything else.
pub fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `SHA-256(0x00 || entry)`: an entry's leaf hash.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

/// `SHA-256(0x01 || left || right)`: an interior node's hash.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The largest power of two smaller than `n` (n > 1): where RFC 9162 splits
/// a tree of `n` leaves.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D\[n\]): the root of the tree over `leaves` (leaf hashes); the hash
/// of the empty string for no leaves.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The roots of a growing tree's perfect subtrees, largest first (its
/// compact range from 0): the root of every prefix in O(log n) a leaf.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    subtrees: Vec<(u64, Hash)>,
}

impl Frontier {
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (1u64, leaf);
        while let Some(&(size, left)) = self.subtrees.last() {
            if size != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (size * 2, node_hash(&left, &node.1));
        }
        self.subtrees.push(node);
    }

    /// The frontier of a tree of `size` leaves from its subtree roots,
    /// largest first (as [`Frontier::hashes`] gives them); `None` unless
    /// there is one root for each set bit of `size`.
    pub fn from_hashes(size: u64, hashes: &[Hash]) -> Option<Self> {
        let sizes = (0..u64::BITS).rev().map(|bit| 1u64 << bit).filter(|s| size & s != 0);
        (size.count_ones() as usize == hashes.len())
            .then(|| Self { subtrees: sizes.zip(hashes.iter().copied()).collect() })
    }

    /// The subtree roots, largest first.
    pub fn hashes(&self) -> impl Iterator<Item = &Hash> {
        self.subtrees.iter().map(|(_, h)| h)
    }

    /// How many leaves were pushed.
    pub fn size(&self) -> u64 {
        self.subtrees.iter().map(|(s, _)| s).sum()
    }

    /// MTH of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut nodes = self.subtrees.iter().rev().map(|(_, h)| *h);
        let Some(last) = nodes.next() else { return sha256(&[]) };
        nodes.fold(last, |right, left| node_hash(&left, &right))
    }
}

/// The tree's levels, leaves first: each level pairs the one below left to
/// right and carries an unpaired last node up unchanged, which builds the
/// same tree as RFC 9162's split at the largest power of two.
fn levels(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    let mut levels = vec![leaves.to_vec()];
    while let Some(below) = levels.last().filter(|l| l.len() > 1) {
        let above = below.chunks(2).map(|pair| if let [l, r] = pair { node_hash(l, r) } else { pair[0] }).collect();
        levels.push(above);
    }
    levels
}

fn path_in(levels: &[Vec<Hash>], mut index: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    for level in levels {
        if let Some(sibling) = level.get(index ^ 1) {
            proof.push(*sibling);
        }
        index >>= 1;
    }
    proof
}

/// PATH(m, D\[n\]): the inclusion proof of leaf `index`; `None` when the
/// tree has no such leaf.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    (index < leaves.len()).then(|| path_in(&levels(leaves), index))
}

/// Every leaf's inclusion proof in the tree over `leaves`, in order: the
/// levels built once, so n proofs cost O(n log n).
pub fn inclusion_proofs(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    let levels = levels(leaves);
    (0..leaves.len()).map(|i| path_in(&levels, i)).collect()
}

/// PROOF(m, D\[n\]): the consistency proof from the tree of the first
/// `old_size` leaves to the tree of all of them; `None` unless
/// `0 < old_size <= leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Option<Vec<Hash>> {
    (old_size > 0 && old_size <= leaves.len()).then(|| subproof(leaves, old_size, true))
}

fn subproof(leaves: &[Hash], m: usize, complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete { Vec::new() } else { vec![root(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut proof = subproof(&leaves[..k], m, complete);
        proof.push(root(&leaves[k..]));
        proof
    } else {
        let mut proof = subproof(&leaves[k..], m - k, false);
        proof.push(root(&leaves[..k]));
        proof
    }
}

/// RFC 9162 §2.1.3.2: whether `proof` shows `leaf` at `index` in the tree
/// of `size` leaves whose root is `root`. Any input, however hostile, gives
/// an answer (no panic, work bounded by the proof's length).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let mut walk = Walk { fn_: index, sn: size - 1 };
    let mut r = *leaf;
    for p in proof {
        if walk.at_root() {
            return false;
        }
        r = match walk.climb() {
            Sibling::Left => node_hash(p, &r),
            Sibling::Right => node_hash(&r, p),
        };
    }
    walk.at_root() && r == *root
}

/// RFC 9162 §2.1.4.2: whether `proof` shows the tree of `old_size` leaves
/// with root `old_root` to be a prefix of the tree of `new_size` leaves
/// with root `new_root`. Any input gives an answer (no panic).
pub fn verify_consistency(old_size: u64, new_size: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else { return false };
    let mut walk = Walk { fn_: old_size - 1, sn: new_size - 1 };
    while walk.fn_ & 1 == 1 {
        walk.shift();
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if walk.at_root() {
            return false;
        }
        match walk.climb() {
            Sibling::Left => {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
            }
            Sibling::Right => sr = node_hash(&sr, c),
        }
    }
    fr == *old_root && sr == *new_root && walk.at_root()
}

/// Which side of the running hash a proof's next hash goes on.
enum Sibling {
    Left,
    Right,
}

/// Where RFC 9162's verification walks (§2.1.3.2 and §2.1.4.2) stand:
/// `fn_` and `sn`, the RFC's `fn` and `sn`, the node's index and the last
/// index at the current level.
struct Walk {
    fn_: u64,
    sn: u64,
}

impl Walk {
    fn at_root(&self) -> bool {
        self.sn == 0
    }

    /// One level up.
    fn shift(&mut self) {
        self.fn_ >>= 1;
        self.sn >>= 1;
    }

    /// The side the next proof hash goes on, and up past the levels it
    /// covers: for a left sibling of an even node (the tree's right edge),
    /// up until `fn_` is odd or 0; then one level up.
    fn climb(&mut self) -> Sibling {
        let sibling = if self.fn_ & 1 == 1 || self.fn_ == self.sn { Sibling::Left } else { Sibling::Right };
        if matches!(sibling, Sibling::Left) {
            while self.fn_ & 1 == 0 && self.fn_ != 0 {
                self.shift();
            }
        }
        self.shift();
        sibling
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn unhex(s: &str) -> Hash {
        let hash = parse_hash(s).unwrap();
        assert_eq!(crate::hex(&hash), s);
        hash
    }

    // The reference leaves and roots of RFC 6962's tests, as
    // transparency-dev/merkle (testonly/constants.go) and
    // certificate-transparency-go publish them.
    const LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
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

    fn reference() -> Vec<Hash> {
        LEAVES.iter().map(|l| leaf_hash(l)).collect()
    }

    #[test]
    fn roots_match_the_reference_for_every_size() {
        let leaves = reference();
        for (n, want) in ROOTS.iter().enumerate() {
            assert_eq!(root(&leaves[..n]), unhex(want), "size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference() {
        let leaves = reference();
        let cases: [(usize, [&str; 3]); 2] = [
            (
                0,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let root8 = unhex(ROOTS[8]);
        for (index, want) in cases {
            let want: Vec<Hash> = want.iter().map(|h| unhex(h)).collect();
            assert_eq!(inclusion_proof(&leaves, index).unwrap(), want, "leaf {index}");
            assert!(verify_inclusion(index as u64, 8, &leaves[index], &want, &root8));
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference() {
        let leaves = reference();
        let cases: [(usize, usize, &[&str]); 3] = [
            (
                2,
                8,
                &[
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
        for (old, new, want) in cases {
            let want: Vec<Hash> = want.iter().map(|h| unhex(h)).collect();
            assert_eq!(consistency_proof(&leaves[..new], old).unwrap(), want, "{old} -> {new}");
            assert!(verify_consistency(old as u64, new as u64, &unhex(ROOTS[old]), &unhex(ROOTS[new]), &want));
        }
    }

    #[test]
    fn every_proof_of_every_small_tree_verifies_and_a_changed_one_does_not() {
        let leaves: Vec<Hash> = (0u8..37).map(|i| leaf_hash(&[i, i.wrapping_mul(7)])).collect();
        for n in 1..=leaves.len() {
            let tree = &leaves[..n];
            let r = root(tree);
            let all = inclusion_proofs(tree);
            let mut frontier = Frontier::default();
            tree.iter().for_each(|leaf| frontier.push(*leaf));
            assert_eq!(frontier.root(), r, "frontier of {n}");
            let hashes: Vec<Hash> = frontier.hashes().copied().collect();
            let again = Frontier::from_hashes(n as u64, &hashes).unwrap();
            assert_eq!((again.root(), again.size()), (r, n as u64));
            assert!(Frontier::from_hashes(n as u64, &hashes[1..]).is_none());
            for i in 0..n {
                let proof = inclusion_proof(tree, i).unwrap();
                assert_eq!(all[i], proof);
                assert!(verify_inclusion(i as u64, n as u64, &tree[i], &proof, &r));
                assert!(!verify_inclusion(i as u64, n as u64, &tree[(i + 1) % n], &proof, &r) || n == 1);
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = node_hash(first, first);
                    assert!(!verify_inclusion(i as u64, n as u64, &tree[i], &bad, &r));
                }
                if n > 1 {
                    assert!(!verify_inclusion(((i + 1) % n) as u64, n as u64, &tree[i], &proof, &r));
                }
            }
            for m in 1..=n {
                let proof = consistency_proof(tree, m).unwrap();
                let old = root(&tree[..m]);
                assert!(verify_consistency(m as u64, n as u64, &old, &r, &proof), "{m} -> {n}");
                if m < n {
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_consistency(m as u64, n as u64, &old, &r, &bad));
                    assert!(!verify_consistency(m as u64, n as u64, &r, &r, &proof));
                }
            }
        }
        assert!(inclusion_proof(&leaves[..3], 3).is_none());
        assert!(consistency_proof(&leaves[..3], 0).is_none());
        assert!(consistency_proof(&leaves[..3], 4).is_none());
    }

    proptest! {
        // Hostile proofs: any sizes, indices and hashes answer, never panic.
        #[test]
        fn verification_never_panics(
            index in any::<u64>(),
            size in any::<u64>(),
            proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
            a in any::<[u8; 32]>(),
            b in any::<[u8; 32]>(),
        ) {
            let _ = verify_inclusion(index, size, &a, &proof, &b);
            let _ = verify_consistency(index, size, &a, &b, &proof);
        }
    }
}
