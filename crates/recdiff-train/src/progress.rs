//! A per-epoch progress bar showing loss and samples/s; hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
}

pub fn bar(enabled: bool, steps_per_epoch: u64) -> Progress {
    if !enabled {
        return Progress { bar: None };
    }
    let bar = ProgressBar::with_draw_target(Some(steps_per_epoch), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    Progress { bar: Some(bar) }
}

impl Progress {
    pub fn reset(&self, epoch: usize) {
        if let Some(b) = &self.bar {
            b.reset();
            b.set_prefix(epoch.to_string());
        }
    }

    pub fn tick(&self, loss: f64, samples_per_s: f64) {
        if let Some(b) = &self.bar {
            b.set_message(format!("loss {loss:.4}, {samples_per_s:.0} samples/s"));
            b.inc(1);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
