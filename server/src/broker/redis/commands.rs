//! The command connection of the Redis backend: one multiplexed connection shared by every
//! caller, made on first use and again after a loss (the subscription task drops it when its
//! own connection fails, so the first command after Redis is back uses a fresh one). Every
//! command, and connecting, is bounded by `COMMAND_TIMEOUT`; while Redis is down a command
//! fails as fast as connecting does.

use std::fmt;
use std::future::Future;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::sync::Mutex;

use super::COMMAND_TIMEOUT;
use super::scripts::Scripts;
use crate::broker::{BrokerError, BrokerUrl};

/// The client, its scripts and the current connection.
pub struct Commands {
    pub url: String,
    pub client: Client,
    config: AsyncConnectionConfig,
    scripts: Scripts,
    conn: Mutex<Option<MultiplexedConnection>>,
}

impl fmt::Debug for Commands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commands").field("url", &self.url).finish()
    }
}

impl Commands {
    pub fn new(url: &BrokerUrl) -> Result<Commands, BrokerError> {
        let client = Client::open(url.url()).map_err(|e| error(&url.url(), &e))?;
        Ok(Commands {
            url: url.url(),
            client,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(COMMAND_TIMEOUT))
                .set_response_timeout(Some(COMMAND_TIMEOUT)),
            scripts: Scripts::new(),
            conn: Mutex::new(None),
        })
    }

    /// PING, expecting PONG: the peer is Redis.
    pub async fn ping(&self) -> Result<(), BrokerError> {
        let pong = self
            .run(true, |mut c, _| async move {
                ::redis::cmd("PING").query_async::<String>(&mut c).await
            })
            .await?;
        if pong != "PONG" {
            return Err(self.protocol(format!("PING answered '{pong}', not PONG")));
        }
        Ok(())
    }

    /// Forgets the connection (it failed): the next command makes a new one.
    pub async fn reset(&self) {
        *self.conn.lock().await = None;
    }

    /// Runs `op` on the connection within the timeout. When it fails for want of a
    /// connection, the connection is dropped; an `idempotent` op that failed on a connection
    /// made earlier is tried once more on a new one.
    pub async fn run<'s, T, F, Fut>(&'s self, idempotent: bool, op: F) -> Result<T, BrokerError>
    where
        F: Fn(MultiplexedConnection, &'s Scripts) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (conn, fresh) = self.connection().await?;
            let e = match tokio::time::timeout(COMMAND_TIMEOUT, op(conn, &self.scripts)).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
                Err(_) => {
                    self.reset().await;
                    return Err(self.timeout());
                }
            };
            if !lost(&e) {
                return Err(error(&self.url, &e));
            }
            self.reset().await;
            if !idempotent || fresh || attempt > 1 {
                return Err(error(&self.url, &e));
            }
        }
    }

    /// The connection (and whether it was made just now).
    async fn connection(&self) -> Result<(MultiplexedConnection, bool), BrokerError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok((c.clone(), false));
        }
        let made = tokio::time::timeout(
            COMMAND_TIMEOUT,
            self.client
                .get_multiplexed_async_connection_with_config(&self.config),
        )
        .await
        .map_err(|_| self.timeout())?
        .map_err(|e| error(&self.url, &e))?;
        *slot = Some(made.clone());
        Ok((made, true))
    }

    fn timeout(&self) -> BrokerError {
        BrokerError::Timeout {
            url: self.url.clone(),
            secs: COMMAND_TIMEOUT.as_secs(),
        }
    }

    pub fn protocol(&self, why: String) -> BrokerError {
        BrokerError::Protocol {
            url: self.url.clone(),
            why: one_line(&why),
        }
    }
}

/// Whether `e` says the connection is gone (rather than the command refused).
fn lost(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// A redis error as a broker error of `url`, on one line.
pub fn error(url: &str, e: &RedisError) -> BrokerError {
    let why = one_line(&e.to_string());
    if e.is_timeout() {
        BrokerError::Timeout {
            url: url.to_string(),
            secs: COMMAND_TIMEOUT.as_secs(),
        }
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        BrokerError::Unreachable {
            url: url.to_string(),
            why,
        }
    } else {
        BrokerError::Protocol {
            url: url.to_string(),
            why,
        }
    }
}

/// `s` with its line breaks made spaces.
pub fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
