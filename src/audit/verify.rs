//! Walking a chain and finding the first record that does not fit, shared by the server
//! (`/v1/audit/verify`, `audit verify`) and the offline check of an export (`audit verify-file`).
//! Records are fed one at a time, so memory does not grow with the chain.

use super::AuditRecord;
use crate::canonical;

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
    /// Whether the records reproduce the root of the latest signed checkpoint (absent when
    /// there is none to check against).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointMatch>,
}

/// The outcome of recomputing a checkpoint's root from the records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointMatch {
    pub tree_size: i64,
    pub root_hash: String,
    pub matches: bool,
}

impl Verification {
    /// Adds the outcome of a checkpoint check; a root the records do not reproduce makes the
    /// trail invalid even where every link holds (the whole chain was rewritten).
    pub fn with_checkpoint(mut self, checkpoint: Option<CheckpointMatch>) -> Self {
        if checkpoint.as_ref().is_some_and(|c| !c.matches) {
            self.valid = false;
        }
        self.checkpoint = checkpoint;
        self
    }

    /// Records a break at `sequence`; the earliest break is the one reported.
    pub fn break_at(&mut self, sequence: i64) {
        self.valid = false;
        self.first_invalid_sequence = Some(
            self.first_invalid_sequence
                .map_or(sequence, |first| first.min(sequence)),
        );
    }
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
    /// A check of a chain whose records up to `after` were pruned: it resumes after the
    /// pruned record's hash.
    pub fn resuming(after: i64, previous_hash: String) -> Self {
        ChainCheck {
            expected_sequence: after + 1,
            previous_hash,
            ..ChainCheck::default()
        }
    }

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
            checkpoint: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, value::RawValue};

    use super::*;
    use crate::audit::depth::nested;

    fn chain(length: i64) -> Vec<AuditRecord> {
        let mut previous = canonical::GENESIS_HASH.to_string();
        (1..=length)
            .map(|sequence| {
                let record = AuditRecord::sealed(
                    sequence,
                    "key.created".into(),
                    "cli".into(),
                    format!("key_{sequence}"),
                    &json!({"n": sequence}),
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
        edited[2].data = RawValue::from_string(r#"{"n":99}"#.into()).unwrap();
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

    /// Data deeper than the JSON parser reads (stored before writes were bounded, or written
    /// by hand): verification hashes the stored text, so the record holds, an export line
    /// carrying it reads back, and tampering after it is still located.
    #[test]
    fn records_deeper_than_the_parser_reads_verify_as_stored() {
        let mut records = chain(4);
        let deep = nested(300);
        records[1] = AuditRecord::sealed(
            2,
            "openintent.state_patched".into(),
            "agent".into(),
            "intent".into(),
            &deep,
            "2024-01-15T10:30:02.000Z".into(),
            records[0].hash.clone(),
        );
        let line = serde_json::to_string(&records[1]).unwrap();
        let read_back: AuditRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(read_back.data.get(), records[1].data.get());
        records[1] = read_back;
        let mut previous = records[1].hash.clone();
        for record in &mut records[2..] {
            *record = AuditRecord::sealed(
                record.sequence,
                record.event_type.clone(),
                record.actor.clone(),
                record.subject.clone(),
                &record.data_value(),
                record.created_at.clone(),
                previous,
            );
            previous = record.hash.clone();
        }
        let intact = verify(&records, Some((4, &records[3].hash)));
        assert!(intact.valid, "{intact:?}");

        records[3].data = RawValue::from_string(r#"{"n":99}"#.into()).unwrap();
        assert_eq!(verify(&records, None).first_invalid_sequence, Some(4));
    }

    #[test]
    fn a_later_break_does_not_hide_an_earlier_one() {
        let records = chain(3);
        let mut result = verify(&records, Some((3, &records[2].hash)));
        result.break_at(4);
        result.break_at(0);
        result.break_at(5);
        assert_eq!(
            (result.valid, result.first_invalid_sequence),
            (false, Some(0))
        );
    }
}
