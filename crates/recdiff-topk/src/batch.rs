//! Dense batches from the sparse matrix: only the rows of a batch's users are materialised. The
//! functions live with the run contract (`recdiff_run::topk`), where serving reads them too.

pub use recdiff_run::topk::{train_rows, user_ids};
