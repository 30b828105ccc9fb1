//! Who owns a duty: rendezvous (highest random weight) hashing of a key
//! over the live members. Every node computes the same answer from the same
//! membership, so a call's duties or a contact's keep-alives have exactly
//! one owner, and when a node dies only its share moves.

/// FNV-1a over the member name and the key: stable across versions and
/// platforms (duties must not move because of a compiler upgrade).
pub fn rendezvous_score(member: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in member.bytes().chain([0xff]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // A final mix so that close inputs spread.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The member that owns `key` among `members` (None if there are none).
pub fn owner_of<'a>(key: &str, members: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    members.into_iter().max_by(|a, b| {
        rendezvous_score(a, key)
            .cmp(&rendezvous_score(b, key))
            .then(b.cmp(a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_and_only_the_dead_share_moves() {
        let all = ["n1", "n2", "n3"];
        let keys: Vec<String> = (0..3000).map(|i| format!("call-{i}")).collect();
        let before: Vec<&str> = keys.iter().map(|k| owner_of(k, all).unwrap()).collect();
        for n in all {
            let share = before.iter().filter(|o| **o == n).count();
            assert!((800..1200).contains(&share), "{n} owns {share}");
        }
        let after: Vec<&str> = keys
            .iter()
            .map(|k| owner_of(k, ["n1", "n3"]).unwrap())
            .collect();
        for (b, a) in before.iter().zip(&after) {
            if *b != "n2" {
                assert_eq!(b, a, "a survivor's duty must not move");
            }
        }
        assert_eq!(owner_of("x", []), None);
    }
}
