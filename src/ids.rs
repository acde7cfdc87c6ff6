//! Resource ids: a short type prefix and a ULID (`key_01HN4X7KQZ8Y1A2B3C4D5E6F7G`), so ids
//! say what they name and sort by creation time. Within one process they are strictly
//! increasing, also inside one millisecond (a plain ULID's random part would sort ids of the
//! same millisecond at random, and event ids are the order of an intent's log).

use std::sync::Mutex;

static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// The prefix of API key ids.
pub const API_KEY: &str = "key";

/// A new id of the given kind.
pub fn new_id(prefix: &str) -> String {
    let generated = GENERATOR
        .lock()
        .ok()
        .and_then(|mut generator| generator.generate().ok());
    let ulid = match generated {
        Some(ulid) => ulid,
        // Only after 2^80 ids in one millisecond, or with a poisoned lock.
        None => ulid::Ulid::new(),
    };
    format!("{prefix}_{ulid}")
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

    #[test]
    fn ids_made_in_one_millisecond_still_sort_in_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("oev")).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
