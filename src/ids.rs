//! Resource ids: a short type prefix and a ULID (`key_01HN4X7KQZ8Y1A2B3C4D5E6F7G`), so ids
//! say what they name and sort by creation time.

/// The prefix of API key ids.
pub const API_KEY: &str = "key";

/// A new id of the given kind.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let first = new_id(API_KEY);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id(API_KEY);
        assert!(first.starts_with("key_") && first.len() == 30);
        assert!(first < second);
    }
}
