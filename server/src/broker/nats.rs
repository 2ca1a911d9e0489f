//! The Nats backend (to be built): see `Backend`.

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::{Backend, BrokerError, BrokerUrl, Feed, Options, Retained};

/// A connection to Nats.
#[derive(Debug)]
pub struct Nats {
    url: String,
}

impl Nats {
    /// Connects and starts the subscription.
    pub async fn connect(
        url: &BrokerUrl,
        _options: &Options,
        _feed: mpsc::Sender<Feed>,
    ) -> Result<Nats, BrokerError> {
        Err(BrokerError::Protocol {
            url: url.url(),
            why: "not built yet".into(),
        })
    }

    fn todo<T>(&self) -> Result<T, BrokerError> {
        Err(BrokerError::Protocol {
            url: self.url.clone(),
            why: "not built yet".into(),
        })
    }
}

impl Backend for Nats {
    fn publish<'a>(
        &'a self,
        _topic: &'a str,
        _event: Option<&'a str>,
        _data: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(async move { self.todo() })
    }

    fn since<'a>(
        &'a self,
        _topic: &'a str,
        _after: u64,
    ) -> BoxFuture<'a, Result<Retained, BrokerError>> {
        Box::pin(async move { self.todo() })
    }

    fn raise<'a>(&'a self, _topic: &'a str, _seq: u64) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move { self.todo() })
    }
}
