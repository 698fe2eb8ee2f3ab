//! The keys the keyed benches visit, the same for every library and every run.

#![allow(dead_code)] // each bench uses the part it needs

/// A fixed pseudo-random sequence (xorshift64*), so every library sees the
/// same keys in the same order.
pub fn random_words(count: usize, seed: u64) -> Vec<u64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        })
        .collect()
}

/// `count` distinct-looking API keys, `sk_live_` and 24 letters or digits.
pub fn api_keys(count: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_words(count * 24, 7)
        .chunks(24)
        .map(|chunk| {
            let tail: String = chunk
                .iter()
                .map(|word| ALPHABET[(word >> 32) as usize % ALPHABET.len()] as char)
                .collect();
            format!("sk_live_{tail}")
        })
        .collect()
}
