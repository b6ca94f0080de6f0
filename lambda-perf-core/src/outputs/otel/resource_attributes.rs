//! `OTEL_RESOURCE_ATTRIBUTES`: attributes of the resource given by the environment, as the
//! OpenTelemetry SDKs read them.

use percent_encoding::percent_decode_str;

/// The resource's attributes from `OTEL_RESOURCE_ATTRIBUTES` (`key=value,…`, values
/// percent-decoded), in order. As the OpenTelemetry specification asks, a value with any
/// entry that does not read (no `=`, an empty key, a value that does not decode to UTF-8) is
/// discarded whole: the error names the entry by position, not by content.
pub(crate) fn parse(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut attributes = Vec::new();
    for (position, entry) in list.split(',').enumerate() {
        if entry.trim().is_empty() {
            continue;
        }
        let read = entry.split_once('=').and_then(|(key, value)| {
            let key = key.trim();
            let value = percent_decode_str(value.trim()).decode_utf8().ok()?;
            (!key.is_empty()).then(|| (key.to_owned(), value.into_owned()))
        });
        match read {
            Some(attribute) => attributes.push(attribute),
            None => {
                return Err(format!(
                    "OTEL_RESOURCE_ATTRIBUTES: entry {} is not key=value with a non-empty key and \
                     a percent-encoded UTF-8 value; the variable is ignored",
                    position + 1
                ));
            }
        }
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_read_in_order_with_their_values_decoded() {
        assert_eq!(
            parse(" service.name = checkout%20api ,deployment.environment=prod,,").unwrap(),
            [
                ("service.name".to_owned(), "checkout api".to_owned()),
                ("deployment.environment".to_owned(), "prod".to_owned()),
            ]
        );
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn one_entry_that_does_not_read_discards_the_whole_value() {
        for list in ["a=1,b", "a=1,=2", "a=%FF"] {
            let error = parse(list).unwrap_err();
            assert!(
                error.contains("entry 2") || error.contains("entry 1"),
                "{error}"
            );
        }
        assert!(parse("a=1,b").unwrap_err().contains("entry 2"));
    }
}
