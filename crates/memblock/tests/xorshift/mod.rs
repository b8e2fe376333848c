//! xorshift64*: the reproducible, dependency-free generator of the differential tests
//! (with or without the `alloc` feature, unlike `memblock::trace::Rng`).

/// xorshift64* state (never 0).
pub struct Rng(pub u64);

#[allow(dead_code)] // Each test file uses its own subset.
impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}
