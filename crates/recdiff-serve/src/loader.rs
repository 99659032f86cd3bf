//! One long-lived thread that loads every model the server swaps in.
//!
//! A model's weights (tens of megabytes) are allocated by the thread that loads it, and with the
//! allocator told to keep freed pages (`MIMALLOC_PURGE_DELAY=-1`, see `recdiff serve`) they stay
//! with that thread's heap when the model is dropped. Loading on whatever blocking-pool thread was
//! free left a model's worth of pages with a different heap each time, which only that thread
//! could reuse: RSS climbed with reloads. Loading on one thread hands each new model the pages of
//! the one it replaced.

use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

/// The loader thread, started on first use.
#[derive(Default)]
pub struct Loader {
    jobs: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
}

impl Loader {
    fn sender(&self) -> Option<mpsc::Sender<Job>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new().name("recdiff-loader".into()).spawn(move || {
                for job in rx {
                    job();
                }
            });
            match spawned {
                Ok(_) => *jobs = Some(tx),
                Err(e) => tracing::error!("starting the loader thread: {e}"),
            }
        }
        jobs.clone()
    }

    /// Runs `work` on the loader thread; `None` if it panicked or the thread could not start.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(out.ok());
        });
        self.sender()?.send(job).ok()?;
        rx.await.ok().flatten()
    }
}
