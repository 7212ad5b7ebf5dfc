use std::ops::ControlFlow;

use crate::ComputeError;

/// Maps the progress of one phase (0..=1) onto its share of the whole job and turns a `Break` into
/// [`ComputeError::Cancelled`].
pub(crate) struct Progress<'a> {
    callback: &'a mut dyn FnMut(f64) -> ControlFlow<()>,
    start: f64,
    span: f64,
}

impl<'a> Progress<'a> {
    pub(crate) fn new(callback: &'a mut dyn FnMut(f64) -> ControlFlow<()>) -> Self {
        Self { callback, start: 0.0, span: 1.0 }
    }

    /// Makes the next phase cover `[start, start + span)` of the whole.
    pub(crate) fn phase(&mut self, start: f64, span: f64) {
        self.start = start.clamp(0.0, 1.0);
        self.span = span.clamp(0.0, 1.0 - self.start);
    }

    /// Reports `fraction` (0..=1) of the current phase done.
    pub(crate) fn report(&mut self, fraction: f64) -> Result<(), ComputeError> {
        let overall = (self.start + self.span * fraction.clamp(0.0, 1.0)).clamp(0.0, 1.0);
        match (self.callback)(overall) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(ComputeError::Cancelled),
        }
    }
}
