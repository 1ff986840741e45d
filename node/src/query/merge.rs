//! Pure pieces of the coordinator: splitting a limit among slices and putting answers together.

use overlay::aggregate::AggregatePartial;

/// Splits `total` as evenly as possible over `parts`, the remainder going to the first parts.
pub fn split_evenly(total: u32, parts: usize) -> Vec<u32> {
    if parts == 0 {
        return Vec::new();
    }
    let parts_u = parts as u32;
    (0..parts_u)
        .map(|i| total / parts_u + u32::from(i < total % parts_u))
        .collect()
}

/// Where one slice stands during a filter query's rounds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SliceProgress {
    /// Matching rows received so far.
    pub rows: u32,
    /// No more matching rows exist past `rows`.
    pub exhausted: bool,
    /// No holder could serve it.
    pub failed: bool,
}

/// The next round's shares: the shortfall split over slices that may still have rows.
/// Empty when the limit is met or nothing more can come.
pub fn next_round_shares(limit: u32, progress: &[SliceProgress]) -> Vec<u32> {
    let received: u32 = progress.iter().map(|p| p.rows).sum();
    let shortfall = limit.saturating_sub(received);
    let open: Vec<usize> = (0..progress.len())
        .filter(|&i| !progress[i].exhausted && !progress[i].failed)
        .collect();
    if shortfall == 0 || open.is_empty() {
        return Vec::new();
    }
    let mut shares = vec![0; progress.len()];
    for (index, share) in open.iter().zip(split_evenly(shortfall, open.len())) {
        shares[*index] = share;
    }
    shares
}

/// Merges slice partials in partition order (so the floating-point result does not depend on
/// which holder answered first).
pub fn merge_partials<'a>(
    partials: impl IntoIterator<Item = &'a AggregatePartial>,
) -> AggregatePartial {
    let mut merged = AggregatePartial::default();
    for partial in partials {
        merged.merge(partial);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_evenly_with_remainder_first() {
        assert_eq!(split_evenly(2000, 6), vec![334, 334, 333, 333, 333, 333]);
        assert_eq!(split_evenly(2, 4), vec![1, 1, 0, 0]);
        assert!(split_evenly(5, 0).is_empty());
        assert_eq!(split_evenly(2000, 6).iter().sum::<u32>(), 2000);
    }

    #[test]
    fn shortfall_goes_to_slices_that_may_have_more() {
        let progress = [
            SliceProgress {
                rows: 100,
                exhausted: true,
                failed: false,
            },
            SliceProgress {
                rows: 300,
                exhausted: false,
                failed: false,
            },
            SliceProgress {
                rows: 0,
                exhausted: false,
                failed: true,
            },
            SliceProgress {
                rows: 300,
                exhausted: false,
                failed: false,
            },
        ];
        assert_eq!(next_round_shares(1000, &progress), vec![0, 150, 0, 150]);
        assert!(next_round_shares(700, &progress).is_empty(), "limit met");
        let done = [SliceProgress {
            rows: 5,
            exhausted: true,
            failed: false,
        }];
        assert!(
            next_round_shares(1000, &done).is_empty(),
            "nothing more to get"
        );
    }
}
