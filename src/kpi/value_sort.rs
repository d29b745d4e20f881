//! The sort of an exact sketch's values at window close, in `f64::total_cmp` order bit for bit.
//! Up to 16 values (a cell's 5-minute window) go through a sorting network on integer keys,
//! which has no data-dependent branch; from 21 to 64, the standard sort on the keys, which has
//! a branchless path for primitive integers. Both are faster than the comparator sort on the
//! floats (`cargo bench --bench threshold -- sort`), which is kept for 17–20 values (where the
//! standard sort insertion-sorts either way) and for more than 64 (an old checkpoint's).

/// The integer whose order is [`f64::total_cmp`]'s (the same transform it makes).
fn total_order_key(v: f64) -> i64 {
    flip_below_sign(v.to_bits() as i64)
}

/// The value whose [`total_order_key`] is `key`.
fn from_total_order_key(key: i64) -> f64 {
    f64::from_bits(flip_below_sign(key) as u64)
}

/// Flips the 63 bits below the sign of a negative number (its own inverse: the sign stays).
fn flip_below_sign(bits: i64) -> i64 {
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// Whether `values` are in `total_cmp` order.
pub fn is_sorted(values: &[f64]) -> bool {
    values.is_sorted_by_key(|&v| total_order_key(v))
}

/// Batcher's odd-even merge sort of 16 inputs: 63 compare-exchanges, the first 19 of which sort
/// inputs 0–7 ([`NETWORK_8`]).
#[rustfmt::skip]
const NETWORK_16: [(usize, usize); 63] = [
    // inputs 0-7 (the network of 8)
    (0, 1), (2, 3), (0, 2), (1, 3), (1, 2), (4, 5), (6, 7), (4, 6), (5, 7), (5, 6),
    (0, 4), (2, 6), (2, 4), (1, 5), (3, 7), (3, 5), (1, 2), (3, 4), (5, 6),
    // inputs 8-15
    (8, 9), (10, 11), (8, 10), (9, 11), (9, 10), (12, 13), (14, 15), (12, 14), (13, 15), (13, 14),
    (8, 12), (10, 14), (10, 12), (9, 13), (11, 15), (11, 13), (9, 10), (11, 12), (13, 14),
    // the merge of the two halves
    (0, 8), (4, 12), (4, 8), (2, 10), (6, 14), (6, 10), (2, 4), (6, 8), (10, 12),
    (1, 9), (5, 13), (5, 9), (3, 11), (7, 15), (7, 11), (3, 5), (7, 9), (11, 13),
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14),
];
/// The network of 8 inputs: the first 19 compare-exchanges of the network of 16.
const NETWORK_8: &[(usize, usize)] = NETWORK_16.split_at(19).0;

/// Largest count the standard sort insertion-sorts: up to it, keys bring nothing.
const SMALL_SORT: usize = 20;
/// Largest count sorted on keys held on the stack.
const KEYED: usize = 64;

/// Sorts `values` in `total_cmp` order.
pub fn sort(values: &mut [f64]) {
    match values.len() {
        0 | 1 => {}
        2..=8 => sort_by_network::<8>(values, NETWORK_8),
        9..=16 => sort_by_network::<16>(values, &NETWORK_16),
        17..=SMALL_SORT => values.sort_unstable_by(f64::total_cmp),
        n if n <= KEYED => {
            let mut keys: smallvec::SmallVec<[i64; KEYED]> =
                values.iter().map(|&v| total_order_key(v)).collect();
            keys.sort_unstable();
            write_back(values, &keys);
        }
        _ => values.sort_unstable_by(f64::total_cmp),
    }
}

/// Sorts up to `N` values: their keys, padded with the largest key, through `network`. A pad
/// can only tie with a value of that same key, whose bits are the pad's: the first
/// `values.len()` keys out are the values sorted.
fn sort_by_network<const N: usize>(values: &mut [f64], network: &[(usize, usize)]) {
    let mut keys = [i64::MAX; N];
    for (k, &v) in keys.iter_mut().zip(values.iter()) {
        *k = total_order_key(v);
    }
    for &(a, b) in network {
        compare_exchange(&mut keys, a, b);
    }
    write_back(values, &keys);
}

fn compare_exchange(keys: &mut [i64], a: usize, b: usize) {
    if let (Some(&x), Some(&y)) = (keys.get(a), keys.get(b)) {
        if let Some(k) = keys.get_mut(a) {
            *k = x.min(y);
        }
        if let Some(k) = keys.get_mut(b) {
            *k = x.max(y);
        }
    }
}

fn write_back(values: &mut [f64], keys: &[i64]) {
    for (v, &k) in values.iter_mut().zip(keys) {
        *v = from_total_order_key(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The 0-1 principle: a network that sorts every sequence of zeros and ones sorts every
    /// sequence. Exhaustive: 2⁸ and 2¹⁶ inputs.
    #[test]
    fn the_networks_sort_every_input() {
        fn sorts_all<const N: usize>(network: &[(usize, usize)]) {
            for bits in 0u32..(1 << N) {
                let mut keys = [0i64; N];
                for (i, k) in keys.iter_mut().enumerate() {
                    *k = i64::from((bits >> i) & 1);
                }
                for &(a, b) in network {
                    compare_exchange(&mut keys, a, b);
                }
                assert!(keys.is_sorted(), "{bits:b}");
            }
        }
        sorts_all::<8>(NETWORK_8);
        sorts_all::<16>(&NETWORK_16);
    }

    proptest! {
        /// Every path (network, standard sort, keys, more than 64) is `total_cmp`'s order bit
        /// for bit, for any f64: negative, signed zeros, NaNs, infinities, ties.
        #[test]
        fn sorting_is_total_cmp_order(
            bits in prop::collection::vec(any::<u64>(), 0..=KEYED + 8),
            ties in prop::collection::vec(0u64..4, 0..=KEYED + 8),
        ) {
            for input in [&bits, &ties] {
                let mut values: Vec<f64> = input.iter().map(|&b| f64::from_bits(b)).collect();
                let mut want = values.clone();
                want.sort_by(f64::total_cmp);
                sort(&mut values);
                let got: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
                let want: Vec<u64> = want.iter().map(|v| v.to_bits()).collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn the_largest_key_sorts_with_the_pads() {
        let top = f64::from_bits(i64::MAX as u64);
        let mut values = [top, 1.0, -0.0, 0.0, top];
        sort(&mut values);
        let want = [-0.0, 0.0, 1.0, top, top];
        assert!(
            values
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
