//! Cancellation of work whose caller has gone: a shared flag that long scans check between
//! blocks, and a guard that raises it when the future doing the work is dropped unfinished.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag raised once the work it belongs to is no longer wanted. Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Raises the flag.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the flag was raised.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Raises a [`Cancel`] when dropped before [`CancelOnDrop::finish`], and runs a callback
/// then (to count the abandoned work). Keep it alive in the future doing the work: when the
/// caller goes away the future is dropped, and with it the guard.
pub struct CancelOnDrop {
    cancel: Cancel,
    on_cancel: Option<Box<dyn FnOnce() + Send>>,
}

impl CancelOnDrop {
    /// Guards `cancel`; `on_cancel` runs if the guard is dropped unfinished.
    pub fn new(cancel: Cancel, on_cancel: impl FnOnce() + Send + 'static) -> Self {
        Self {
            cancel,
            on_cancel: Some(Box::new(on_cancel)),
        }
    }

    /// The work completed: dropping the guard now does nothing.
    pub fn finish(mut self) {
        self.on_cancel = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(on_cancel) = self.on_cancel.take() {
            self.cancel.cancel();
            on_cancel();
        }
    }
}

impl std::fmt::Debug for CancelOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelOnDrop")
            .field("cancel", &self.cancel)
            .field("armed", &self.on_cancel.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn a_dropped_guard_raises_the_flag_and_counts_once() {
        let counted = Arc::new(AtomicU32::new(0));
        let cancel = Cancel::default();
        let count = counted.clone();
        drop(CancelOnDrop::new(cancel.clone(), move || {
            count.fetch_add(1, Ordering::Relaxed);
        }));
        assert!(cancel.is_cancelled());
        assert_eq!(counted.load(Ordering::Relaxed), 1);

        let finished = Cancel::default();
        let count = counted.clone();
        CancelOnDrop::new(finished.clone(), move || {
            count.fetch_add(1, Ordering::Relaxed);
        })
        .finish();
        assert!(!finished.is_cancelled());
        assert_eq!(counted.load(Ordering::Relaxed), 1);
    }
}
