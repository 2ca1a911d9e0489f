//! The five push techniques pushbench measures, by their public names: the run directory's
//! [`contract::run_dir::Technique`], so the load generator and the reports name them alike.

pub use contract::run_dir::technique::{Technique, UnknownTechnique};
