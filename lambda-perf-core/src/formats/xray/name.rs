//! Subsegment names X-Ray accepts: 1–200 Unicode letters, numbers, space separators and
//! `_ . : / % & # = + - @`. The segment document schema's `java_pattern`,
//! `[\p{L}\p{Z}\p{N}_.:/%&#=+\-@]`, is the rule: its `\-` is an escaped hyphen, so a
//! backslash is refused, and `\p{Z}` holds no control character (tab, newline).

use std::borrow::Cow;

use super::name_chars::is_letter_number_or_separator;

/// Longest name X-Ray accepts.
const MAX_NAME: usize = 200;

/// Whether X-Ray accepts `c` in a segment name.
fn is_name_char(c: char) -> bool {
    is_letter_number_or_separator(c) || "_.:/%&#=+-@".contains(c)
}

/// Checks a handler name, which becomes `## <name>`: the result has at most 200 characters.
/// (`#[instrument_lambda]` checks its literal `name` by the same rules, as far as ASCII goes,
/// in `lambda-perf-macros/src/attr.rs`: change both.)
pub(crate) fn validate_handler_name(name: &str) -> Result<(), &'static str> {
    let reason = if name.trim().is_empty() {
        "a subsegment name needs at least one non-blank character"
    } else if name.chars().count() > MAX_NAME - 3 {
        "a subsegment name has at most 200 characters, \"## \" included"
    } else if !name.chars().all(is_name_char) {
        "a subsegment name may only contain letters, numbers, spaces and _ . : / % & # = + - @"
    } else {
        return Ok(());
    };
    Err(reason)
}

/// The handler subsegment's name when none is given: the function's, if X-Ray accepts it
/// ([`validate_handler_name`]: Lambda's names always pass, `POWERTOOLS_METRICS_FUNCTION_NAME`
/// is free text), else `handler`.
pub(crate) fn default_handler_name(function_name: Option<&str>) -> &str {
    function_name
        .filter(|name| validate_handler_name(name).is_ok())
        .unwrap_or("handler")
}

/// A name X-Ray accepts: characters it refuses removed (as the official SDKs do) and cut at
/// 200 characters; `Err` carries that cleaned name when anything had to change.
pub(crate) fn sanitize(name: Cow<'static, str>) -> Result<Cow<'static, str>, Cow<'static, str>> {
    let fine = !name.trim().is_empty()
        && name.chars().count() <= MAX_NAME
        && name.chars().all(is_name_char);
    if fine {
        return Ok(name);
    }
    let cleaned: String = name
        .chars()
        .filter(|c| is_name_char(*c))
        .take(MAX_NAME)
        .collect();
    if cleaned.trim().is_empty() {
        Err(Cow::Borrowed("unnamed"))
    } else {
        Err(Cow::Owned(cleaned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_x_ray_refuses_are_cleaned() {
        assert_eq!(sanitize("## init db".into()), Ok("## init db".into()));
        assert_eq!(
            sanitize("GET /users?id=1;drop".into()),
            Err("GET /usersid=1drop".into())
        );
        assert_eq!(sanitize("x".repeat(300).into()).unwrap_err().len(), 200);
        assert_eq!(sanitize("???".into()), Err("unnamed".into()));
        // The schema's pattern has no backslash and no control character.
        assert_eq!(sanitize("a\\b".into()), Err("ab".into()));
        assert_eq!(sanitize("a\tb\nc\u{85}".into()), Err("abc".into()));
        assert_eq!(
            sanitize("a\u{a0}b\u{3000}c".into()),
            Ok("a\u{a0}b\u{3000}c".into())
        );
    }

    /// The rule is `\p{L}\p{Z}\p{N}`: a letter by Unicode category, not by the `Alphabetic`
    /// property `char::is_alphanumeric` reads, which also holds combining marks (Devanagari
    /// vowel signs, categories Mn/Mc) and circled letters (So). X-Ray refuses those.
    #[test]
    fn names_are_checked_by_unicode_category_not_the_alphabetic_property() {
        // U+24B6 CIRCLED LATIN CAPITAL LETTER A (So), then `b`.
        assert_eq!(sanitize("\u{24b6}b".into()), Err("b".into()));
        // Devanagari: U+093F VOWEL SIGN I (Mc) and U+0902 SIGN ANUSVARA (Mn) are no letters.
        assert_eq!(
            sanitize("\u{939}\u{93f}\u{902}\u{926}\u{940}".into()),
            Err("\u{939}\u{926}".into())
        );
        assert!(validate_handler_name("\u{24b6}").is_err());
    }

    #[test]
    fn handler_names_leave_room_for_the_prefix() {
        assert!(validate_handler_name("orders-fn").is_ok());
        assert!(validate_handler_name(&"x".repeat(197)).is_ok());
        assert!(validate_handler_name(&"x".repeat(198)).is_err());
        assert!(validate_handler_name("a;b").is_err());
        assert!(validate_handler_name(" ").is_err());
        assert!(validate_handler_name("a\\b").is_err());
        assert!(validate_handler_name("a\tb").is_err());
    }
}
