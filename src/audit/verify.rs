//! Walking a chain and finding the first record that does not fit, shared by the server
//! (`/v1/audit/verify`, `audit verify`) and the offline check of an export (`audit verify-file`).
//! Records are fed one at a time, so memory does not grow with the chain.

use super::{canonical, AuditRecord};

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub valid: bool,
    /// Records seen.
    pub event_count: i64,
    /// Hash of the last record (the chain head), or the genesis hash for an empty chain.
    pub head_hash: String,
    /// The first sequence at which the chain breaks: a changed, missing or misplaced record.
    pub first_invalid_sequence: Option<i64>,
}

/// Incremental chain check: [`ChainCheck::feed`] each record in sequence order, then
/// [`ChainCheck::finish`].
pub struct ChainCheck {
    expected_sequence: i64,
    previous_hash: String,
    event_count: i64,
    first_invalid: Option<i64>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck {
            expected_sequence: 1,
            previous_hash: canonical::GENESIS_HASH.to_string(),
            event_count: 0,
            first_invalid: None,
        }
    }
}

impl ChainCheck {
    /// Checks the next record: its sequence follows the previous one, it links to the
    /// previous hash, and its own hash matches its content.
    pub fn feed(&mut self, record: &AuditRecord) {
        self.event_count += 1;
        if self.first_invalid.is_none() {
            let fits = record.sequence == self.expected_sequence
                && record.previous_hash == self.previous_hash
                && record.hash == record.computed_hash();
            if !fits {
                self.first_invalid = Some(self.expected_sequence);
            }
        }
        self.expected_sequence += 1;
        self.previous_hash = record.hash.clone();
    }

    /// Ends the walk. `head` is the stored chain head `(sequence, hash)` when known (it is
    /// not in an export): a chain whose tail was removed or rewritten no longer ends there.
    pub fn finish(self, head: Option<(i64, &str)>) -> Verification {
        let last_sequence = self.expected_sequence - 1;
        let mut first_invalid = self.first_invalid;
        if first_invalid.is_none() {
            if let Some((head_sequence, head_hash)) = head {
                if head_sequence > last_sequence {
                    first_invalid = Some(last_sequence + 1);
                } else if head_sequence < last_sequence || head_hash != self.previous_hash {
                    first_invalid = Some(head_sequence.max(1));
                }
            }
        }
        Verification {
            valid: first_invalid.is_none(),
            event_count: self.event_count,
            head_hash: self.previous_hash,
            first_invalid_sequence: first_invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain(length: i64) -> Vec<AuditRecord> {
        let mut previous = canonical::GENESIS_HASH.to_string();
        (1..=length)
            .map(|sequence| {
                let record = AuditRecord::sealed(
                    sequence,
                    "key.created".into(),
                    "cli".into(),
                    format!("key_{sequence}"),
                    json!({"n": sequence}),
                    format!("2024-01-15T10:30:{:02}.000Z", sequence % 60),
                    previous.clone(),
                );
                previous = record.hash.clone();
                record
            })
            .collect()
    }

    fn verify(records: &[AuditRecord], head: Option<(i64, &str)>) -> Verification {
        let mut check = ChainCheck::default();
        records.iter().for_each(|r| check.feed(r));
        check.finish(head)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let records = chain(5);
        let result = verify(&records, Some((5, &records[4].hash)));
        assert!(result.valid);
        assert_eq!(
            (result.event_count, result.head_hash.as_str()),
            (5, records[4].hash.as_str())
        );
        let empty = verify(&[], None);
        assert!(empty.valid && empty.head_hash == canonical::GENESIS_HASH);
    }

    #[test]
    fn tampering_is_located() {
        let mut edited = chain(5);
        edited[2].data = json!({"n": 99});
        assert_eq!(verify(&edited, None).first_invalid_sequence, Some(3));

        let mut removed = chain(5);
        removed.remove(1);
        assert_eq!(verify(&removed, None).first_invalid_sequence, Some(2));

        let mut swapped = chain(5);
        swapped.swap(1, 3);
        (swapped[1].sequence, swapped[3].sequence) = (2, 4);
        assert_eq!(verify(&swapped, None).first_invalid_sequence, Some(2));

        let records = chain(5);
        let tail_cut = verify(&records[..4], Some((5, &records[4].hash)));
        assert_eq!(tail_cut.first_invalid_sequence, Some(5));
    }
}
