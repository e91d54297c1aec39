//! Where secrets' randomness comes from: session ids and password salts.
//!
//! In `serve` they come from the operating system's cryptographically
//! secure generator (ring's `SystemRandom`, `getrandom(2)` on Linux), as a
//! session id must be unguessable (OWASP Session Management: at least 64
//! bits of entropy; we draw 256). A lesson must replay byte for byte, so
//! the lesson runner hands in a generator seeded from the lesson's `seed`
//! instead: its ids are predictable by design, and only ever name sessions
//! in a simulated database.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use ring::rand::SecureRandom;

/// The generator could not give random bytes (getrandom(2) fails only
/// before the kernel's pool is seeded at boot).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the operating system's random generator failed")]
pub struct EntropyError;

/// A source of random bytes.
pub trait Entropy: Send + Sync {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError>;
}

/// The operating system's secure generator.
pub struct SystemEntropy(ring::rand::SystemRandom);

impl SystemEntropy {
    pub fn new() -> SystemEntropy {
        SystemEntropy(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemEntropy {
    fn default() -> Self {
        SystemEntropy::new()
    }
}

impl Entropy for SystemEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError> {
        self.0.fill(buf).map_err(|_| EntropyError)
    }
}

/// A lesson's generator: SHA-256 of (seed, counter), block after block.
/// The same seed gives the same bytes on every machine, forever (SHA-256
/// is fixed by FIPS 180-4), and nothing here is secret.
pub struct Seeded {
    seed: u64,
    counter: std::sync::atomic::AtomicU64,
}

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        Seeded {
            seed,
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Entropy for Seeded {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError> {
        for chunk in buf.chunks_mut(32) {
            let n = self
                .counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut input = [0u8; 16];
            input[..8].copy_from_slice(&self.seed.to_le_bytes());
            input[8..].copy_from_slice(&n.to_le_bytes());
            let block = ring::digest::digest(&ring::digest::SHA256, &input);
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
        Ok(())
    }
}

/// 32 random bytes as URL-safe base64 without padding: a session id
/// (43 characters, 256 bits).
pub fn token(entropy: &dyn Entropy) -> Result<String, EntropyError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_ids_every_run_and_another_seed_others() {
        let (a, b) = (Seeded::new(7), Seeded::new(7));
        let first = token(&a).expect("seeded never fails");
        assert_eq!(first, token(&b).expect("seeded never fails"));
        assert_eq!(first.len(), 43);
        assert_ne!(first, token(&a).expect("seeded never fails"));
        assert_ne!(first, token(&Seeded::new(8)).expect("seeded never fails"));
    }
}
