//! A list bounded by keeping its first values and its latest: where what came first (the
//! start of a failure, of a retry loop) and how it ended both matter, and what came between
//! is counted instead of kept.

/// Pushes `value` onto `list`, which holds at most `most` values (at least 1): once it is
/// full, `value` takes the last place, that of the latest value, and the value it replaces
/// is returned.
pub(crate) fn push<T>(list: &mut Vec<T>, value: T, most: usize) -> Option<T> {
    debug_assert!(most > 0, "a list of no values keeps no latest");
    if list.len() < most {
        list.push(value);
        return None;
    }
    list.truncate(most);
    list.last_mut()
        .map(|latest| std::mem::replace(latest, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_full_the_latest_is_replaced_and_returned() {
        let mut list = Vec::new();
        let replaced: Vec<u32> = (0..5).filter_map(|n| push(&mut list, n, 3)).collect();
        assert_eq!(list, [0, 1, 4]);
        assert_eq!(replaced, [2, 3]);
    }
}
