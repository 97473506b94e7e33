//! Work that blocks a thread (Maildir reads and commits, password hashes)
//! runs on tokio's blocking pool, never on the threads that serve the
//! network, and only so many jobs at once.

use std::io;
use std::sync::Arc;

use tokio::sync::Semaphore;

/// Runs blocking jobs, at most a fixed number at a time; the rest wait
/// for a free slot without holding a thread.
#[derive(Debug, Clone)]
pub struct Blocking {
    slots: Arc<Semaphore>,
}

impl Blocking {
    /// At most `jobs` jobs at once.
    pub fn new(jobs: usize) -> Blocking {
        Blocking {
            slots: Arc::new(Semaphore::new(jobs.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }

    /// Runs `job` on the blocking pool once a slot is free and returns what
    /// it returned. The slot is held until the job ends, even if the
    /// caller stops waiting. A job that panicked is an error.
    pub async fn run<T, F>(&self, job: F) -> io::Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            job()
        })
        .await
        .map_err(io::Error::other)
    }
}
