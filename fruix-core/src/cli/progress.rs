//! Progress on stderr: bars when stderr is a terminal, plain lines otherwise, nothing
//! with `--quiet`.

use crate::image::Stage;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Reports build stages.
pub struct Progress {
    mode: Mode,
    bar: Option<ProgressBar>,
    last: Option<Stage>,
    started: Instant,
}

enum Mode {
    Quiet,
    Lines,
    Bars,
}

fn label(stage: Stage) -> &'static str {
    match stage {
        Stage::System => "system closure",
        Stage::Packages { .. } => "FreeBSD packages",
        Stage::Esp => "EFI system partition",
        Stage::Root { .. } => "UFS2 root file system",
        Stage::Disk => "disk image",
        Stage::Done => "done",
    }
}

impl Progress {
    /// Progress on stderr: bars on a terminal, lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        Progress {
            mode,
            bar: None,
            last: None,
            started: Instant::now(),
        }
    }

    /// A plain status line (kept out of stdout, which carries results).
    pub fn note(&self, text: &str) {
        if !matches!(self.mode, Mode::Quiet) {
            eprintln!("fruix: {text}");
        }
    }

    /// Reports that the build reached `stage`.
    pub fn stage(&mut self, stage: Stage) {
        let same_kind = matches!(
            (self.last, stage),
            (Some(Stage::Root { .. }), Stage::Root { .. })
                | (Some(Stage::Packages { .. }), Stage::Packages { .. })
        );
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                if !same_kind {
                    eprintln!(
                        "fruix: [{:>6.1}s] {}",
                        self.started.elapsed().as_secs_f64(),
                        label(stage)
                    );
                }
            }
            Mode::Bars => {
                // A bar per stage: the packages' downloads, then the root's bytes.
                if !same_kind {
                    if let Some(bar) = self.bar.take() {
                        bar.finish();
                    }
                }
                if let Stage::Root { done, total } | Stage::Packages { done, total } = stage {
                    let bar = self.bar.get_or_insert_with(|| {
                        let bar = ProgressBar::new(total);
                        if let Ok(style) = ProgressStyle::with_template(
                            "{msg:>24} [{bar:40}] {bytes}/{total_bytes} {elapsed}",
                        ) {
                            bar.set_style(style.progress_chars("=> "));
                        }
                        bar.set_message(label(stage));
                        bar
                    });
                    bar.set_length(total);
                    bar.set_position(done);
                } else {
                    if let Some(bar) = self.bar.take() {
                        bar.finish();
                    }
                    if !matches!(stage, Stage::Done) {
                        let spinner = ProgressBar::new_spinner();
                        spinner.set_message(label(stage));
                        spinner.finish_with_message(format!("{:>24} ...", label(stage)));
                    }
                }
            }
        }
        self.last = Some(stage);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
