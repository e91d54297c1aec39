//! The lesson's random numbers: SplitMix64, seeded by the lesson's `seed`.
//!
//! A lesson's golden trace pins every arrival time of its load to the
//! nanosecond, so the generator must give the same numbers forever, on
//! every platform, whatever crates are upgraded. SplitMix64 (Steele, Lea
//! and Flood, "Fast splittable pseudorandom number generators", OOPSLA
//! 2014; Java's `SplittableRandom`) is defined by the few lines below: a
//! Weyl sequence (add a fixed odd constant) passed through a fixed mixing
//! function. Nothing outside this file can change its output. It passes
//! the BigCrush statistical tests, which is plenty for choosing arrival
//! times and requests; it is not for secrets. A crate such as
//! `rand_chacha` would do as well, but its value stability is a promise of
//! its maintainers, and here it is a property of the code.
//!
//! Floating point is kept to IEEE 754's basic operations (`+ - * /`),
//! which every platform rounds the same way. `f64::ln` is not: it calls the
//! platform's maths library, whose last bit may differ, so the natural
//! logarithm the exponential distribution needs is computed here with a
//! fixed series.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md).

/// SplitMix64's increment: the odd integer closest to 2^64 / φ.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A new generator for a part of the run (one client of a closed
    /// loop), seeded from this one: the parts draw independently, so the
    /// order in which they happen to run cannot change their numbers.
    pub fn split(&mut self) -> SplitMix64 {
        SplitMix64::new(self.next_u64())
    }

    /// A uniform number in [0, n), for n ≥ 1 (Lemire's multiply-shift:
    /// the high 64 bits of a 128-bit product; its bias is below n / 2^64).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform number in (0, 1]: 53 random bits, never 0 (so its
    /// logarithm is finite).
    pub fn unit_open_closed(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A gap between two arrivals of a Poisson process of `rate` per
    /// second, in nanoseconds: exponentially distributed with mean
    /// 1/`rate` (inverse transform: −ln U / rate).
    pub fn exponential_ns(&mut self, rate_per_second: f64) -> u64 {
        let u = self.unit_open_closed();
        let seconds = -ln(u) / rate_per_second;
        // Rounded to the nearest nanosecond; saturates on absurd inputs.
        (seconds * 1e9 + 0.5) as u64
    }
}

/// ln 2, to the precision of an f64.
const LN_2: f64 = std::f64::consts::LN_2;

/// The natural logarithm of `x` > 0, from basic operations only.
///
/// `x = m · 2^e` with `m` in [√½, √2) (from the bits of `x`), then
/// `ln x = e · ln 2 + 2 · atanh((m − 1)/(m + 1))`, the series
/// `2 (z + z³/3 + z⁵/5 + …)` with |z| < 0.172, summed to 20 terms
/// (the next term is below 10⁻³¹).
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let (mut m, mut e) = split_exponent(x);
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut term = z;
    let mut sum = 0.0;
    for k in 0..20 {
        sum += term / f64::from(2 * k + 1);
        term *= z2;
    }
    f64::from(e) * LN_2 + 2.0 * sum
}

/// `x` (finite, > 0) as `m · 2^e` with `m` in [1, 2).
fn split_exponent(x: f64) -> (f64, i32) {
    let mut x = x;
    let mut bias = 0;
    // Subnormals: scale into the normal range first (2^54 is exact).
    if x < f64::MIN_POSITIVE {
        x *= (1u64 << 54) as f64;
        bias = -54;
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mantissa = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    (mantissa, exponent + bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_gives_the_published_sequence_for_seed_zero() {
        // The first outputs for seed 0, as in the reference implementation
        // (Vigna, prng.di.unimi.it/splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn ln_agrees_with_the_platform_to_the_last_bits() {
        for x in [
            1e-300, 1e-9, 0.001, 0.5, 0.7, 1.0, 1.5, 2.0, 10.0, 12345.678, 1e300,
        ] {
            let (ours, std) = (ln(x), x.ln());
            assert!(
                (ours - std).abs() <= 4.0 * f64::EPSILON * std.abs().max(1.0),
                "ln({x}) = {ours}, std says {std}"
            );
        }
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(0.0).is_nan() && ln(-1.0).is_nan());
    }

    #[test]
    fn exponential_gaps_have_mean_one_over_the_rate() {
        let mut r = SplitMix64::new(7);
        let n = 20_000;
        let total: u64 = (0..n).map(|_| r.exponential_ns(50.0)).sum();
        let mean_s = total as f64 / n as f64 / 1e9;
        assert!((mean_s - 0.02).abs() < 0.02 * 0.03, "mean gap {mean_s} s");
    }

    #[test]
    fn below_stays_in_range_and_reaches_every_value() {
        let mut r = SplitMix64::new(3);
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            let v = r.below(5) as usize;
            seen[v] += 1;
        }
        assert!(seen.iter().all(|&c| c > 150), "{seen:?}");
    }
}
