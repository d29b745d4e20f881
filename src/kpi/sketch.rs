//! A mergeable quantile sketch with relative error, sized for millions of groups.
//!
//! Up to [`EXACT_LIMIT`] values are kept exactly (a window of one quiet cell costs a few bytes
//! and its percentiles are exact). Past that the values move to log-spaced buckets of relative
//! width 2α (α = 0.5 %): a value v > 0 lands in bucket `i = ⌈ln v / ln γ⌉`, γ = (1+α)/(1−α),
//! whose representative `2γ^i/(γ+1)` is within α of every value in it. Buckets are stored
//! densely between the smallest and largest index seen, with `u32` counts; zero (and values below
//! [`MIN_POSITIVE`]) are counted apart and reported as 0.
//!
//! Quantiles are nearest-rank (the smallest value with at least ⌈q·n⌉ values ≤ it), with the rank
//! computed in integers so that p95 of 20 values is the 19th, never the 20th by float rounding.
//! The KPI contract allows 1 % relative error; this sketch guarantees 0.5 %.
//!
//! Merging is exact in bucket space, so a region's percentile is the same whether its values
//! arrived through one cell or a thousand, and the result does not depend on arrival order.
//! We do not use `hdrhistogram` here: one instance with 2 significant digits over the needed
//! range is 10–20 KiB (a million cells × three percentile KPIs would not fit), it works on
//! integers (our latencies are fractional milliseconds) and its quantile rank is not nearest-rank.

/// How many values are kept exactly before switching to buckets.
pub const EXACT_LIMIT: usize = 64;
/// How many exact values live inside the sketch itself, with no allocation: most cells see
/// only a few calls and sessions in a 5-minute window.
pub const INLINE_VALUES: usize = 2;
/// The room exact values of a busy group first move to the heap with (see [`Sketch::add_busy`]):
/// such a window sees tens of values, and growing 2 → 4 → 8 one doubling at a time was a
/// realloc and a copy each (the aggregate bench 6–8 % faster with it).
const BUSY_SPILL: usize = 8;

/// The exact values: inline up to [`INLINE_VALUES`], on the heap past that.
pub type ExactValues = smallvec::SmallVec<[f64; INLINE_VALUES]>;
/// Relative accuracy of the bucketed form.
pub const ALPHA: f64 = 0.005;
/// Values below this are counted as zero.
pub const MIN_POSITIVE: f64 = 1e-9;

/// A quantile sketch over non-negative values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Sketch {
    /// Few values, kept as they are (unsorted).
    Exact(ExactValues),
    /// Many values, in log buckets.
    Buckets(Box<Buckets>),
}

/// The bucketed form of a [`Sketch`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Buckets {
    zeros: u64,
    count: u64,
    offset: i32,
    counts: Vec<u32>,
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch::Exact(ExactValues::new())
    }
}

fn gamma_ln() -> f64 {
    ((1.0 + ALPHA) / (1.0 - ALPHA)).ln()
}

fn bucket_index(v: f64, ln_gamma: f64) -> i32 {
    // Values are at least MIN_POSITIVE and finite, so the index fits an i32 comfortably
    // (|ln v / ln γ| < 71 000). `ceil` without the libm call it compiles to on baseline x86-64:
    // truncation is the ceiling of a negative x, and one below it for a positive non-integer.
    let x = v.ln() / ln_gamma;
    let t = x as i32;
    if f64::from(t) < x {
        t.saturating_add(1)
    } else {
        t
    }
}

impl Buckets {
    fn new() -> Self {
        Buckets {
            zeros: 0,
            count: 0,
            offset: 0,
            counts: Vec::new(),
        }
    }

    fn add_n(&mut self, v: f64, n: u32, ln_gamma: f64) {
        self.count += u64::from(n);
        if v.is_nan() || v < MIN_POSITIVE {
            self.zeros += u64::from(n);
            return;
        }
        self.add_index(bucket_index(v, ln_gamma), n);
    }

    fn add_index(&mut self, i: i32, n: u32) {
        self.cover(i, i);
        let slot = &mut self.counts[(i - self.offset) as usize];
        *slot = slot.saturating_add(n);
    }

    /// Grows the dense counts (once) so that they cover bucket indices `lo..=hi`.
    fn cover(&mut self, lo: i32, hi: i32) {
        if self.counts.is_empty() {
            self.offset = lo;
            self.counts.resize((hi - lo) as usize + 1, 0);
            return;
        }
        if lo < self.offset {
            let grow = (self.offset - lo) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = lo;
        }
        if (hi - self.offset) as usize >= self.counts.len() {
            self.counts.resize((hi - self.offset) as usize + 1, 0);
        }
    }

    /// Adds one value at each of `values`, working out each bucket index once and growing the
    /// counts once for all of them.
    fn add_values(&mut self, values: &[f64], ln_gamma: f64) {
        let mut indices: smallvec::SmallVec<[i32; EXACT_LIMIT]> = smallvec::SmallVec::new();
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        for &v in values {
            if v.is_nan() || v < MIN_POSITIVE {
                self.zeros += 1;
            } else {
                let i = bucket_index(v, ln_gamma);
                (lo, hi) = (lo.min(i), hi.max(i));
                indices.push(i);
            }
        }
        self.count += values.len() as u64;
        if indices.is_empty() {
            return;
        }
        self.cover(lo, hi);
        for i in indices {
            if let Some(slot) = self.counts.get_mut((i - self.offset) as usize) {
                *slot = slot.saturating_add(1);
            }
        }
    }

    fn merge(&mut self, other: &Buckets) {
        self.zeros += other.zeros;
        self.count += other.count;
        let first = other.counts.iter().position(|&c| c > 0);
        let last = other.counts.iter().rposition(|&c| c > 0);
        let (Some(first), Some(last)) = (first, last) else {
            return;
        };
        self.cover(other.offset + first as i32, other.offset + last as i32);
        for (k, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                self.add_index(other.offset + k as i32, c);
            }
        }
    }

    fn quantile_at_rank(&self, rank: u64) -> f64 {
        if rank <= self.zeros {
            return 0.0;
        }
        let gamma = (1.0 + ALPHA) / (1.0 - ALPHA);
        let mut seen = self.zeros;
        for (k, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                let i = self.offset + k as i32;
                return 2.0 * gamma.powi(i) / (gamma + 1.0);
            }
        }
        // Unreachable while counts add up; the largest bucket is the safe answer.
        let i = self.offset + self.counts.len() as i32 - 1;
        2.0 * gamma.powi(i) / (gamma + 1.0)
    }

    /// Heap bytes owned by this form.
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Buckets>() + self.counts.capacity() * 4
    }
}

/// Nearest rank of quantile `permille`/1000 among `n` values: ⌈q·n⌉, at least 1.
pub fn nearest_rank(permille: u32, n: u64) -> u64 {
    (u64::from(permille) * n).div_ceil(1000).max(1)
}

impl Sketch {
    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        match self {
            Sketch::Exact(v) => v.len() as u64,
            Sketch::Buckets(b) => b.count,
        }
    }

    /// Records one value (callers pass non-negative finite values).
    pub fn add(&mut self, v: f64) {
        self.add_busy(v, false);
    }

    /// Records one value of a group that `busy` says already counted several records in its
    /// window: when the exact values first leave the sketch for the heap, they take room for
    /// `BUSY_SPILL` at once instead of doubling. A quiet group (a million cells with three
    /// records each) keeps the doubling's smaller allocations.
    pub fn add_busy(&mut self, v: f64, busy: bool) {
        match self {
            Sketch::Exact(values) if values.len() < EXACT_LIMIT => {
                if busy && values.len() == INLINE_VALUES && !values.spilled() {
                    values.reserve_exact(BUSY_SPILL - INLINE_VALUES);
                }
                values.push(v);
            }
            Sketch::Exact(_) => {
                self.switch_to_buckets();
                self.add(v);
            }
            Sketch::Buckets(b) => b.add_n(v, 1, gamma_ln()),
        }
    }

    fn switch_to_buckets(&mut self) {
        if let Sketch::Exact(values) = self {
            let ln_gamma = gamma_ln();
            let mut b = Buckets::new();
            b.add_values(values, ln_gamma);
            *self = Sketch::Buckets(Box::new(b));
        }
    }

    /// Adds every value of `other` to `self`.
    pub fn merge(&mut self, other: &Sketch) {
        match (&mut *self, other) {
            (_, Sketch::Exact(o)) if o.is_empty() => {}
            (Sketch::Exact(mine), Sketch::Exact(o)) if mine.len() + o.len() <= EXACT_LIMIT => {
                mine.extend_from_slice(o);
            }
            (Sketch::Buckets(mine), Sketch::Buckets(o)) => mine.merge(o),
            (Sketch::Buckets(mine), Sketch::Exact(o)) => {
                let ln_gamma = gamma_ln();
                mine.add_values(o, ln_gamma);
            }
            (Sketch::Exact(_), _) => {
                self.switch_to_buckets();
                self.merge(other);
            }
        }
    }

    /// The nearest-rank quantile `permille`/1000 (e.g. 950 for p95), or `None` when empty.
    pub fn quantile(&self, permille: u32) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = nearest_rank(permille, n);
        match self {
            Sketch::Exact(values) if super::value_sort::is_sorted(values) => {
                values.get((rank - 1) as usize).copied()
            }
            Sketch::Exact(values) => {
                let mut sorted = values.clone();
                let k = (rank - 1) as usize;
                let (_, v, _) = sorted.select_nth_unstable_by(k, f64::total_cmp);
                Some(*v)
            }
            Sketch::Buckets(b) => Some(b.quantile_at_rank(rank)),
        }
    }

    /// Sorts the values of an exact sketch (the same multiset, so the same quantiles), after
    /// which every quantile is read off directly instead of selected from a copy: a window's
    /// groups are sorted once when it closes, before their percentile KPIs are read.
    pub fn sort_exact(&mut self) {
        if let Sketch::Exact(values) = self {
            super::value_sort::sort(values);
        }
    }

    /// Heap bytes owned by this sketch (for the memory report).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Sketch::Exact(v) if v.spilled() => v.capacity() * 8,
            Sketch::Exact(_) => 0,
            Sketch::Buckets(b) => b.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact_nearest_rank(values: &[f64], permille: u32) -> f64 {
        let mut s = values.to_vec();
        s.sort_by(f64::total_cmp);
        s[(nearest_rank(permille, s.len() as u64) - 1) as usize]
    }

    #[test]
    fn nearest_rank_is_integer_exact() {
        assert_eq!(nearest_rank(950, 20), 19);
        assert_eq!(nearest_rank(950, 21), 20);
        assert_eq!(nearest_rank(500, 1), 1);
        assert_eq!(nearest_rank(50, 10), 1);
        assert_eq!(nearest_rank(990, 100), 99);
    }

    #[test]
    fn small_sets_are_exact() {
        let mut s = Sketch::default();
        for v in [5.0, 1.0, 3.0, 2.0, 4.0] {
            s.add(v);
        }
        assert_eq!(s.quantile(500), Some(3.0));
        assert_eq!(s.quantile(990), Some(5.0));
        assert_eq!(s.quantile(50), Some(1.0));
        assert_eq!(Sketch::default().quantile(500), None);
    }

    #[test]
    fn zeros_are_reported_as_zero() {
        let mut s = Sketch::default();
        for _ in 0..100 {
            s.add(0.0);
        }
        s.add(7.0);
        assert_eq!(s.quantile(500), Some(0.0));
        assert!((s.quantile(999).unwrap_or(0.0) - 7.0).abs() / 7.0 <= ALPHA);
    }

    proptest! {
        #[test]
        fn within_relative_error(values in prop::collection::vec(0.0f64..1e9, 1..400), q in 1u32..1000) {
            let mut s = Sketch::default();
            for &v in &values { s.add(v); }
            let exact = exact_nearest_rank(&values, q);
            let got = s.quantile(q).unwrap();
            if exact < MIN_POSITIVE {
                prop_assert_eq!(got, 0.0);
            } else {
                prop_assert!((got - exact).abs() <= exact * (ALPHA + 1e-12), "{} vs {}", got, exact);
            }
        }

        #[test]
        fn merge_equals_single_sketch(a in prop::collection::vec(0.0f64..1e6, 0..200), b in prop::collection::vec(0.0f64..1e6, 0..200)) {
            let mut whole = Sketch::default();
            for &v in a.iter().chain(&b) { whole.add(v); }
            let mut left = Sketch::default();
            for &v in &a { left.add(v); }
            let mut right = Sketch::default();
            for &v in &b { right.add(v); }
            left.merge(&right);
            for q in [50, 500, 950, 990] {
                prop_assert_eq!(left.quantile(q), whole.quantile(q));
            }
            // In bucket form the state itself is the same, counts grown once or value by value.
            if let (Sketch::Buckets(_), Sketch::Buckets(_)) = (&left, &whole) {
                prop_assert_eq!(&left, &whole);
            }
        }

        #[test]
        fn a_sorted_exact_sketch_gives_the_same_quantiles(values in prop::collection::vec(0.0f64..1e6, 1..=EXACT_LIMIT), q in 1u32..1000) {
            let mut s = Sketch::default();
            for &v in &values { s.add(v); }
            let unsorted = s.quantile(q);
            s.sort_exact();
            prop_assert_eq!(s.quantile(q), unsorted);
            prop_assert_eq!(unsorted, Some(exact_nearest_rank(&values, q)));
        }
    }

    #[test]
    fn only_a_busy_group_spills_with_room_for_more() {
        let spill = |busy: bool| {
            let mut s = Sketch::default();
            for v in [1.0, 2.0, 3.0] {
                s.add_busy(v, busy);
            }
            s.heap_bytes()
        };
        assert_eq!(spill(false), 4 * 8, "quiet: the doubling");
        assert_eq!(spill(true), BUSY_SPILL * 8);
    }

    #[test]
    fn an_oversized_exact_sketch_from_a_checkpoint_still_answers() {
        let values: Vec<f64> = (0..200).rev().map(f64::from).collect();
        let s = Sketch::Exact(values.iter().copied().collect());
        assert_eq!(s.quantile(500), Some(exact_nearest_rank(&values, 500)));
    }

    /// The hand-made ceiling gives libm's `ceil` for every kind of value a sketch takes: tiny,
    /// around one (index 0 and the signs around it), bucket boundaries, integers and huge.
    #[test]
    fn bucket_index_is_the_ceiling_of_the_log_ratio() {
        let ln_gamma = gamma_ln();
        let gamma = ln_gamma.exp();
        let mut values = vec![
            MIN_POSITIVE,
            1e-6,
            0.5,
            1.0,
            1.0 + 1e-12,
            2.0,
            1e6,
            1e300,
            f64::MAX,
        ];
        for k in -2000..2000 {
            let boundary = gamma.powi(k);
            values.extend([boundary, boundary * (1.0 + 1e-15), boundary * (1.0 - 1e-15)]);
        }
        let mut rng = crate::traffic::Rng::new(7);
        values.extend((0..100_000).map(|_| rng.below(1 << 40) as f64 / 997.0 + MIN_POSITIVE));
        for v in values {
            let want = (v.ln() / ln_gamma).ceil() as i32;
            assert_eq!(bucket_index(v, ln_gamma), want, "{v:e}");
        }
    }
}
