//! Server instances sharing topics over a real redis-server (`serve --broker redis://`):
//! the broker suite (`common::broker_suite`) against it. Skipped, saying so, where
//! redis-server is not installed; CI installs it.

mod common;

use server::broker::Kind;

crate::broker_suite_tests!(Kind::Redis);
