//! The `/stats` document of a server (docs/PROTOCOL.md): per-technique counters, process
//! figures, and for a cluster the per-process list.
