//! What a channel name may be. A channel name is an access key: it is stored on
//! every document a channel owns and compared byte for byte when a T3 view is
//! projected. A name that looks like another one (a zero-width space inside,
//! bidirectional controls that reorder what a terminal shows) or that is empty
//! would grant or hide data without anyone seeing why, so such names are refused
//! wherever channels are declared.

/// The longest channel name accepted, in bytes.
pub const MAX_CHANNEL_NAME_BYTES: usize = 128;

/// Characters that draw nothing or reorder text: zero-width spaces and joiners,
/// the word joiner, the byte-order mark, the Mongolian vowel separator, and the
/// bidirectional marks, embeddings, overrides and isolates.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Why `name` cannot be a channel name, or `None` if it can. The reason shows
/// the name escaped, so an invisible character becomes visible.
pub fn channel_name_problem(name: &str) -> Option<String> {
    let shown = name.escape_debug();
    if name.is_empty() {
        return Some("a channel name cannot be empty".into());
    }
    if name.len() > MAX_CHANNEL_NAME_BYTES {
        return Some(format!(
            "channel name \"{}…\" is {} bytes long; at most {MAX_CHANNEL_NAME_BYTES} are allowed",
            name.chars().take(32).collect::<String>().escape_debug(),
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || invisible(*c)) {
        return Some(format!(
            "channel name \"{shown}\" contains U+{:04X}, a control, zero-width or \
             bidirectional character; use visible characters only",
            c as u32
        ));
    }
    if name.trim() != name {
        return Some(format!(
            "channel name \"{shown}\" starts or ends with white space"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_names_pass_and_lookalikes_do_not() {
        for ok in ["DEMO_BRIGHT", "HU_RAPID", "Kanäle-1", "ZTF pub"] {
            assert_eq!(channel_name_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("", "cannot be empty"),
            ("DEMO\u{200B}BRIGHT", "U+200B"),
            ("DEMO\u{202E}THGIRB", "U+202E"),
            ("DEMO\u{2066}X", "U+2066"),
            ("A\tB", "U+0009"),
            ("A\u{7}", "U+0007"),
            ("\u{FEFF}DEMO", "U+FEFF"),
            (" DEMO", "white space"),
        ] {
            let p = channel_name_problem(bad).unwrap_or_else(|| panic!("{bad:?} passed"));
            assert!(p.contains(says), "{bad:?}: {p}");
        }
        let long = "x".repeat(MAX_CHANNEL_NAME_BYTES + 1);
        assert!(channel_name_problem(&long).unwrap().contains("bytes long"));
        // the name is shown escaped: the invisible character can be seen
        assert!(channel_name_problem("A\u{200B}B")
            .unwrap()
            .contains("\\u{200b}"));
    }
}
