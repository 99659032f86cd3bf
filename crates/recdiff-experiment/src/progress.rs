//! Progress of long loops, without printing from a library.
//!
//! Loops (a training epoch, an evaluation, a seed loop) ask for a [`Bar`]; what it shows is up to
//! the [`Sink`] the program installed once at start-up (the `recdiff` binary draws indicatif bars on
//! a terminal). Without a sink, or for a loop whose config turns progress off, every call is a no-op.

use std::sync::OnceLock;

/// One loop's progress.
pub trait Bar: Send + Sync {
    /// `n` more units of work are done.
    fn inc(&self, n: u64);
    /// A short status (loss, throughput).
    fn message(&self, msg: String);
    /// Starts the count again (next epoch), with a new prefix.
    fn reset(&self, prefix: String);
}

/// Makes bars; installed by the program.
pub trait Sink: Send + Sync {
    fn bar(&self, label: &str, len: u64) -> Box<dyn Bar>;
}

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();

/// Installs the program's sink; a second call is ignored (returns false).
pub fn install(sink: Box<dyn Sink>) -> bool {
    SINK.set(sink).is_ok()
}

struct Silent;

impl Bar for Silent {
    fn inc(&self, _: u64) {}
    fn message(&self, _: String) {}
    fn reset(&self, _: String) {}
}

/// A bar over `len` units labelled `label`; silent when `enabled` is false or no sink is installed.
pub fn bar(enabled: bool, label: &str, len: u64) -> Box<dyn Bar> {
    match SINK.get() {
        Some(sink) if enabled => sink.bar(label, len),
        _ => Box::new(Silent),
    }
}
