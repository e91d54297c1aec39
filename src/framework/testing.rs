//! Test support: record the trace of one test (see
//! [`crate::trace::recorder::install_on_this_thread`] for why this is not a
//! plain `set_default`).

use tracing::subscriber::DefaultGuard;

use crate::trace::Recording;

/// Install a buffered recorder on this thread until the guard drops.
pub(crate) fn record() -> (DefaultGuard, Recording) {
    crate::trace::recorder::record_on_this_thread()
}
