//! The run's stop flag (Ctrl-C), seen by the load lanes and the fault schedule alike.

use tokio::sync::watch;

/// A stop request (Ctrl-C) shared by the run, the lanes and the fault events.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop flag and the handle that raises it.
    pub fn channel() -> (watch::Sender<bool>, Stop) {
        let (tx, rx) = watch::channel(false);
        (tx, Stop(rx))
    }

    /// True once stop was asked for.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until stop is asked for.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|&stop| stop).await;
    }
}
