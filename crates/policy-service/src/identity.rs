//! Caller identity from API keys (`POLICY_API_KEYS`).
//!
//! Keys are compared as SHA-256 digests with `subtle`, against every configured key with no
//! early exit, so neither the length nor the content of a key leaks through timing.

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// Shortest API key accepted: shorter keys are guessable.
pub const MIN_API_KEY_LEN: usize = 16;

/// The configured API keys and the identity each one stands for.
#[derive(Clone)]
pub struct ApiKeys {
    entries: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The identities are not secret; the keys are.
        f.debug_struct("ApiKeys")
            .field("identities", &self.identities().collect::<Vec<_>>())
            .finish()
    }
}

impl ApiKeys {
    /// Parses `identity=key,identity=key`. Errors never contain a key.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut entries: Vec<(String, [u8; 32])> = Vec::new();
        for (index, item) in raw.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let Some((id, key)) = item.split_once('=') else {
                return Err(format!("entry {} has no `=`", index + 1));
            };
            let id = id.trim();
            if id.is_empty() {
                return Err(format!("entry {} has an empty identity", index + 1));
            }
            if key.len() < MIN_API_KEY_LEN {
                return Err(format!("the key for `{id}` is too short"));
            }
            if entries.iter().any(|(existing, _)| existing == id) {
                return Err(format!("identity `{id}` appears twice"));
            }
            let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
            if entries.iter().any(|(_, d)| bool::from(d.ct_eq(&digest))) {
                return Err(format!(
                    "the key for `{id}` is also used by another identity"
                ));
            }
            entries.push((id.to_owned(), digest));
        }
        if entries.is_empty() {
            return Err("no keys given".into());
        }
        Ok(ApiKeys { entries })
    }

    /// The identity whose key is `presented`, if any.
    pub fn identify(&self, presented: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, (_, key)) in self.entries.iter().enumerate() {
            let hit = key.ct_eq(&digest);
            // Index fits in u32: the key list comes from one environment variable.
            index.conditional_assign(&(i as u32), hit);
            found |= hit;
        }
        bool::from(found).then(|| self.entries[index as usize].0.as_str())
    }

    /// The configured identities.
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(id, _)| id.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn each_key_identifies_its_owner() {
        let keys = ApiKeys::parse("ai-engine=aaaaaaaaaaaaaaaa1, ops=bbbbbbbbbbbbbbbb2").unwrap();
        assert_eq!(keys.identify("aaaaaaaaaaaaaaaa1"), Some("ai-engine"));
        assert_eq!(keys.identify("bbbbbbbbbbbbbbbb2"), Some("ops"));
        assert_eq!(keys.identify("aaaaaaaaaaaaaaaa"), None);
        assert_eq!(keys.identify(""), None);
    }

    #[test]
    fn keys_may_contain_equals_signs() {
        let keys = ApiKeys::parse("ai-engine=abc=def=ghi=jklmnopq").unwrap();
        assert_eq!(keys.identify("abc=def=ghi=jklmnopq"), Some("ai-engine"));
    }

    #[test]
    fn bad_lists_are_refused_without_the_key() {
        for raw in [
            "",
            "ai-engine",
            "=aaaaaaaaaaaaaaaaaaaa",
            "a=tiny1",
            "a=aaaaaaaaaaaaaaaaaaaa,a=bbbbbbbbbbbbbbbbbbbb",
            "a=aaaaaaaaaaaaaaaaaaaa,b=aaaaaaaaaaaaaaaaaaaa",
        ] {
            let err = ApiKeys::parse(raw).unwrap_err();
            assert!(!err.contains("aaaaaaaa") && !err.contains("tiny1"), "{err}");
        }
    }

    #[test]
    fn debug_output_hides_keys() {
        let keys = ApiKeys::parse("ai-engine=aaaaaaaaaaaaaaaa1").unwrap();
        assert!(!format!("{keys:?}").contains("aaaa"));
    }
}
