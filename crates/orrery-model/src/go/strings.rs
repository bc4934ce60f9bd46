//! Go's `strings.ToLower` and `strings.ToUpper`, which relabeling's `lowercase` and
//! `uppercase` actions use.
//!
//! Go maps each character on its own with Unicode's simple case mapping; Rust's
//! `to_lowercase`/`to_uppercase` use the full mapping, which can expand a character
//! (`ß` → `SS`) and lowercases a final `Σ` to `ς`. Go's results are the ones Prometheus
//! writes into labels, so these reproduce them.

/// Go's `strings.ToLower`: per-character simple case mapping.
pub fn to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            _ => single(c, c.to_lowercase()),
        })
        .collect()
}

/// Go's `strings.ToUpper`: per-character simple case mapping.
pub fn to_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars()
        .map(|c| match c {
            // Greek with ypogegrammeni: the simple mapping is the titlecase letter,
            // while the full mapping expands to two characters.
            '\u{1F80}'..='\u{1F87}' | '\u{1F90}'..='\u{1F97}' | '\u{1FA0}'..='\u{1FA7}' => {
                char::from_u32(c as u32 + 8).unwrap_or(c)
            }
            '\u{1FB3}' => '\u{1FBC}',
            '\u{1FC3}' => '\u{1FCC}',
            '\u{1FF3}' => '\u{1FFC}',
            _ => single(c, c.to_uppercase()),
        })
        .collect()
}

/// The mapped character when the full mapping is a single character, else `c`
/// (characters whose only mapping expands have no simple mapping).
fn single(c: char, mut mapped: impl Iterator<Item = char>) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_mapping_is_gos_simple_mapping() {
        assert_eq!(to_lower("ÀÉ ΟΔΟΣ İ"), "àé οδοσ i");
        assert_eq!(to_upper("straße ﬁ"), "STRAßE ﬁ");
        assert_eq!(to_upper("ᾳ"), "ᾼ");
        assert_eq!(to_lower("FooBar"), "foobar");
        assert_eq!(to_upper("foo"), "FOO");
    }
}
