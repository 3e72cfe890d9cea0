use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::ids::DeliveryId;
use crate::store::inbox::compress_body;

fn delivery(id: &str, body: Bytes) -> NewDelivery {
    NewDelivery {
        id: DeliveryId(id.to_string()),
        event: "issues".into(),
        action: Some("labeled".into()),
        installation_id: Some(7),
        body,
    }
}

fn small(id: &str) -> NewDelivery {
    delivery(id, compress_body(br#"{"action":"labeled"}"#))
}

async fn store_in(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("agen.db").display());
    Store::open(&url).await.unwrap()
}

async fn table_ids(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT delivery_id FROM inbox ORDER BY seq")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// Waits (bounded) until the copier has committed `n` rows.
async fn until_copied(store: &Store, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids = table_ids(store).await;
        if ids.len() >= n || Instant::now() > deadline {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn new_deliveries_are_journaled_then_copied_and_repeats_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let writer = InboxWriter::start(&store, Arc::new(Notify::new()))
        .await
        .unwrap();
    assert_eq!(writer.record(small("a")).await.unwrap(), Arrival::New);
    // Straight away (journaled, maybe not copied yet) and after the copy: a duplicate.
    assert_eq!(writer.record(small("a")).await.unwrap(), Arrival::Duplicate);
    assert_eq!(until_copied(&store, 1).await, ["a"]);
    assert_eq!(writer.record(small("a")).await.unwrap(), Arrival::Duplicate);
    assert!(store.inbox_journal_dir().unwrap().is_dir());

    // Concurrent repeats of one id in one batch: exactly one is new.
    let answers = futures_util::future::join_all((0..20).map(|_| writer.record(small("b")))).await;
    let new = answers
        .iter()
        .filter(|a| matches!(a, Ok(Arrival::New)))
        .count();
    assert_eq!(new, 1, "{answers:?}");
    assert_eq!(until_copied(&store, 2).await, ["a", "b"]);
}

#[tokio::test]
async fn what_the_journal_holds_at_start_is_copied_before_anything_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let journal_dir = store.inbox_journal_dir().unwrap();
    // A run that answered 2xx and died before its copier committed anything.
    let (mut journal, _) = Journal::open(&journal_dir, DEFAULT_SEGMENT_BYTES).unwrap();
    journal.forget_recovered().unwrap();
    let stamped: Vec<Stamped> = ["x", "y"]
        .iter()
        .map(|id| Stamped {
            delivery: small(id),
            received_at: 5,
        })
        .collect();
    journal.append(&stamped).unwrap();
    drop(journal);

    let writer = InboxWriter::start(&store, Arc::new(Notify::new()))
        .await
        .unwrap();
    assert_eq!(table_ids(&store).await, ["x", "y"], "copied during start");
    assert_eq!(writer.record(small("x")).await.unwrap(), Arrival::Duplicate);
    // And they are not copied a second time at the next start.
    drop(writer);
    let _again = InboxWriter::start(&store, Arc::new(Notify::new()))
        .await
        .unwrap();
    assert_eq!(table_ids(&store).await, ["x", "y"]);
}

#[tokio::test]
async fn a_delivery_too_large_for_the_journal_is_committed_directly() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let writer = InboxWriter::start(&store, Arc::new(Notify::new()))
        .await
        .unwrap();
    let big = Bytes::from(vec![7u8; MAX_JOURNALED + 1]);
    assert_eq!(
        writer.record(delivery("big", big.clone())).await.unwrap(),
        Arrival::New
    );
    // In the table as soon as it is answered, byte for byte.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT body FROM inbox WHERE delivery_id = 'big'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored, big);
    assert_eq!(
        writer.record(delivery("big", big)).await.unwrap(),
        Arrival::Duplicate
    );
}

#[tokio::test]
async fn ids_stored_before_a_restart_are_duplicates_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let writer = InboxWriter::start(&store, Arc::new(Notify::new()))
        .await
        .unwrap();
    for id in ["r1", "r2", "r3"] {
        assert_eq!(writer.record(small(id)).await.unwrap(), Arrival::New);
    }
    until_copied(&store, 3).await;
    drop(writer);

    let again = InboxWriter::start(&store, Arc::new(Notify::new()))
        .await
        .unwrap();
    for id in ["r1", "r2", "r3"] {
        assert_eq!(again.record(small(id)).await.unwrap(), Arrival::Duplicate);
    }
    assert_eq!(again.record(small("r4")).await.unwrap(), Arrival::New);
}

#[tokio::test]
async fn the_filter_holds_every_id_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let mut conn = store.writer_connection().await.unwrap();
    let rows: Vec<Stamped> = ["t1", "t2"]
        .iter()
        .map(|id| Stamped {
            delivery: small(id),
            received_at: 1,
        })
        .collect();
    rows::insert(&mut conn, &rows.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    let seen = load_seen(&mut conn).await.unwrap();
    assert!(seen.may_contain("t1") && seen.may_contain("t2"));
    assert!(!seen.may_contain("never"));
}
