//! pushbench's public contracts, defined once as `Serialize + Deserialize` types that every
//! writer and reader uses: the run directory (docs/RUN_FORMAT.md), written by `pushbench run`
//! and `merge`, read by the reports; and the `/stats` document (docs/PROTOCOL.md), served by
//! the server and read by the load generator. Field names are the contract: add fields freely,
//! never rename or remove one without a format version bump.

pub mod run_dir;
pub mod stats;
