//! Server instances sharing topics over a real nats-server (`serve --broker nats://`):
//! the broker suite (`common::broker_suite`) against it. Skipped, saying so, where
//! nats-server is not installed; CI installs it.

mod common;

use common::broker_suite as suite;
use common::brokers::broker_or_skip;
use server::broker::Kind;

#[tokio::test]
async fn instances_agree_on_every_id() {
    let Some(b) = broker_or_skip(Kind::Nats, "instances_agree_on_every_id") else {
        return;
    };
    suite::same_ids_on_every_instance(&b).await;
}

#[tokio::test]
async fn a_client_resumes_on_any_instance() {
    let Some(b) = broker_or_skip(Kind::Nats, "a_client_resumes_on_any_instance") else {
        return;
    };
    suite::resume_on_another_instance(&b).await;
}

#[tokio::test]
async fn a_lost_broker_is_shown_refused_and_caught_up() {
    let Some(mut b) = broker_or_skip(Kind::Nats, "a_lost_broker_is_shown_refused_and_caught_up")
    else {
        return;
    };
    let dir = b.dir().to_path_buf();
    suite::broker_lost_and_back(&mut b, &dir).await;
}

#[tokio::test]
async fn a_bad_broker_url_fails_at_once() {
    suite::bad_urls_fail_fast(Kind::Nats).await;
}
