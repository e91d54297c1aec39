//! Passwords: stored as argon2id hashes, checked in constant time.
//!
//! ```text
//! "wonderland" + salt(16 random bytes) ──argon2id(m, t, p)──▶
//!     $argon2id$v=19$m=256,t=1,p=1$<salt>$<hash>      (the PHC string in users.password_hash)
//! ```
//!
//! A password hash is deliberately slow and memory-hungry, so that
//! someone who steals the table must spend that cost for every guess;
//! the salt makes equal passwords hash differently, so one guess cannot
//! be tried against every user at once (RFC 9106, argon2; OWASP Password
//! Storage Cheat Sheet). The PHC string carries the algorithm, its
//! parameters and the salt, so a check needs nothing but the string.
//!
//! Checking recomputes the hash with the stored salt and parameters and
//! compares the two in constant time (the `argon2` crate's
//! `verify_password` does): a compare that stopped at the first differing
//! byte would tell an attacker, by its speed, how much was right. For a
//! username that does not exist the check still runs, against a dummy
//! hash, so that the answer's timing does not reveal which usernames
//! exist (Django's `ModelBackend` does the same).
//!
//! What we simplify: lessons use a small memory cost (256 KiB, one pass)
//! so that a sign-in takes milliseconds in a debug build; `serve` uses
//! OWASP's 19 MiB and two passes.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::app::entropy::{Entropy, EntropyError};

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 refused its parameters: {0}")]
    Params(String),
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// The hasher with this configuration's cost.
pub fn hasher(memory_kib: u32, iterations: u32) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(memory_kib, iterations, 1, None)
        .map_err(|e| HashError::Params(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash `password` with a fresh 16-byte salt: the PHC string to store.
pub fn hash(
    argon2: &Argon2<'_>,
    password: &str,
    entropy: &dyn Entropy,
) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    entropy.fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Params(e.to_string()))?;
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Params(e.to_string()))
}

/// Does `password` match the stored PHC string? A string that does not
/// parse matches nothing.
pub fn verify(argon2: &Argon2<'_>, password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2.verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// The parameters part of a PHC string, `m=256,t=1,p=1`, for the trace.
pub fn params_of(stored: &str) -> String {
    stored.split('$').nth(3).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting(std::sync::atomic::AtomicU8);
    impl Entropy for Counting {
        fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            buf.iter_mut().for_each(|b| *b = n);
            Ok(())
        }
    }

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let a = hasher(256, 1).expect("valid params");
        let entropy = Counting(0.into());
        let stored = hash(&a, "wonderland", &entropy).expect("hashes");
        assert!(stored.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert_eq!(params_of(&stored), "m=256,t=1,p=1");
        assert!(verify(&a, "wonderland", &stored));
        assert!(!verify(&a, "Wonderland", &stored));
        assert!(!verify(&a, "wonderland", "not a phc string"));
    }

    #[test]
    fn the_same_password_with_another_salt_hashes_differently() {
        let a = hasher(256, 1).expect("valid params");
        let entropy = Counting(0.into());
        let one = hash(&a, "same", &entropy).expect("hashes");
        let two = hash(&a, "same", &entropy).expect("hashes");
        assert_ne!(one, two);
        assert!(verify(&a, "same", &one) && verify(&a, "same", &two));
    }
}
