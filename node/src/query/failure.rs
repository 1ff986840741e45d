//! Slice results that say why a slice could not be served, as typed data
//! (`SliceResult.failure`): the router and the coordinator branch on the kind, never on text.

use overlay::proto::{SliceErrorKind, SliceFailure, SliceResult};

/// A result for `owner`'s slice that failed with `kind`, for `reason`.
pub fn failed(owner: &str, kind: SliceErrorKind, reason: impl Into<String>) -> SliceResult {
    SliceResult {
        owner: owner.to_string(),
        failure: Some(failure(kind, reason)),
        ..Default::default()
    }
}

/// A failure of `kind`, for `reason`.
pub fn failure(kind: SliceErrorKind, reason: impl Into<String>) -> SliceFailure {
    SliceFailure {
        kind: kind.into(),
        reason: reason.into(),
    }
}

/// The kind of a failure. An unknown kind counts as unserved: the slice is missing either way.
pub fn kind(failure: &SliceFailure) -> SliceErrorKind {
    SliceErrorKind::try_from(failure.kind)
        .ok()
        .filter(|kind| *kind != SliceErrorKind::Unspecified)
        .unwrap_or(SliceErrorKind::Unserved)
}

/// The kind of a result's failure, `None` when it was served.
pub fn failure_kind(result: &SliceResult) -> Option<SliceErrorKind> {
    result.failure.as_ref().map(kind)
}

/// True when admission control refused the slice somewhere on its way.
pub fn is_rejected(result: &SliceResult) -> bool {
    failure_kind(result) == Some(SliceErrorKind::Rejected)
}

/// True when the slice was served.
pub fn is_served(result: &SliceResult) -> bool {
    result.failure.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_read_back_and_unknown_ones_count_as_unserved() {
        let refused = failed("D", SliceErrorKind::Rejected, "E is full");
        assert!(is_rejected(&refused) && !is_served(&refused));
        let mut odd = failed("D", SliceErrorKind::Rejected, "");
        odd.failure.as_mut().unwrap().kind = 99;
        assert_eq!(failure_kind(&odd), Some(SliceErrorKind::Unserved));
        assert!(!is_rejected(&odd));
        assert!(is_served(&SliceResult::default()));
    }
}
