//! The binary's progress sink: indicatif bars on stderr, drawn only when stderr is a terminal.
//! Nested loops (a compare's seeds, a run's epochs, an evaluation's batches) stack their bars.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use recdiff_experiment::progress::{Bar, Sink};

struct Indicatif(MultiProgress);

struct IndicatifBar(ProgressBar);

impl Bar for IndicatifBar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    fn message(&self, msg: String) {
        self.0.set_message(msg);
    }

    fn reset(&self, prefix: String) {
        self.0.reset();
        self.0.set_prefix(prefix);
    }
}

impl Drop for IndicatifBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Sink for Indicatif {
    fn bar(&self, label: &str, len: u64) -> Box<dyn Bar> {
        let bar = self.0.add(ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden()));
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        Box::new(IndicatifBar(bar))
    }
}

/// Installs the sink for the whole process.
pub fn install() {
    recdiff_experiment::progress::install(Box::new(Indicatif(MultiProgress::with_draw_target(
        ProgressDrawTarget::stderr(),
    ))));
}
