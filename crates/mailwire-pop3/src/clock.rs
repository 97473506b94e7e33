//! How a session keeps time without reading a clock: it is told the time
//! by `handle_timeout(now)` and told of activity in between.

use std::time::{Duration, Instant};

/// When the current wait began: the `now` of the first `handle_timeout`
/// after the last activity.
#[derive(Debug, Clone)]
pub(crate) struct ActivityClock {
    /// Activity since the last `handle_timeout`.
    activity: bool,
    last: Option<Instant>,
}

impl ActivityClock {
    /// A clock that starts at the first `handle_timeout`.
    pub(crate) fn new() -> Self {
        ActivityClock {
            activity: true,
            last: None,
        }
    }

    /// Something happened: the wait restarts at the next `handle_timeout`.
    pub(crate) fn touch(&mut self) {
        self.activity = true;
    }

    /// Takes the time from `handle_timeout`; true if it restarted the wait
    /// (activity since the last call, or the first call), so that no
    /// deadline can have passed.
    pub(crate) fn restart(&mut self, now: Instant) -> bool {
        if self.activity || self.last.is_none() {
            self.activity = false;
            self.last = Some(now);
            return true;
        }
        false
    }

    /// The end of a wait of `limit`, once the clock has started.
    pub(crate) fn deadline(&self, limit: Duration) -> Option<Instant> {
        self.last?.checked_add(limit)
    }
}
