use serde_json::json;

use super::*;

async fn store_with(n: usize) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("agen.db").display());
    let store = Store::open(&url).await.unwrap();
    for i in 0..n {
        store
            .audit(NewAudit {
                kind: AuditKind::JobQueued,
                repo: Some("acme/app"),
                job: Some(i as i64 + 1),
                actor: Some("maintainer"),
                detail: json!({"issue": 7, "n": i}),
            })
            .await
            .unwrap();
    }
    (store, dir)
}

async fn exec(store: &Store, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

async fn broken(store: &Store) -> Broken {
    store
        .verify_audit()
        .await
        .unwrap()
        .expect_err("the chain should be broken")
}

#[tokio::test]
async fn an_untouched_chain_verifies() {
    let (store, _dir) = store_with(5).await;
    assert_eq!(store.verify_audit().await.unwrap(), Ok(5));
    let entries = store.audit_entries(None, None).await.unwrap();
    assert_eq!(entries[0].prev, GENESIS);
    assert_eq!(entries[1].prev, entries[0].hash);
    assert_eq!(store.audit_tail(2).await.unwrap()[0].seq, 4);
    let (empty, _dir) = store_with(0).await;
    assert_eq!(empty.verify_audit().await.unwrap(), Ok(0));
}

#[tokio::test]
async fn a_changed_row_is_named() {
    let (store, _dir) = store_with(5).await;
    exec(&store, "UPDATE audit SET actor = 'mallory' WHERE seq = 3").await;
    let b = broken(&store).await;
    assert_eq!(b.seq, 3, "{b}");
    assert!(b.problem.contains("was changed"), "{b}");
}

#[tokio::test]
async fn a_removed_row_is_named() {
    let (store, _dir) = store_with(5).await;
    exec(&store, "DELETE FROM audit WHERE seq = 2").await;
    assert_eq!(broken(&store).await.seq, 2);
    // The last one removed: only the head file knows it was there.
    let (store, _dir) = store_with(5).await;
    exec(&store, "DELETE FROM audit WHERE seq = 5").await;
    let b = broken(&store).await;
    assert_eq!(b.seq, 5, "{b}");
    assert!(b.problem.contains("agen wrote entry 5"), "{b}");
}

#[tokio::test]
async fn an_inserted_row_is_named() {
    let (store, _dir) = store_with(4).await;
    // Entries 3 and 4 move up one; a forged entry takes the place of 3, with a hash that is
    // right for its content but not for the chain.
    exec(&store, "UPDATE audit SET seq = seq + 10 WHERE seq >= 3").await;
    exec(&store, "UPDATE audit SET seq = seq - 9 WHERE seq >= 13").await;
    let mut forged = store.audit_entries(None, None).await.unwrap()[1].clone();
    forged.seq = 3;
    forged.actor = Some("mallory".into());
    forged.hash = forged.expected_hash();
    let mut conn = store.pool().acquire().await.unwrap();
    insert(&mut conn, &forged).await.unwrap();
    drop(conn);
    let b = broken(&store).await;
    assert_eq!(b.seq, 3, "{b}");
    assert!(b.problem.contains("removed or inserted"), "{b}");
}

#[tokio::test]
async fn a_truncated_table_is_caught_by_the_head_file() {
    let (store, dir) = store_with(3).await;
    exec(&store, "DELETE FROM audit").await;
    let b = broken(&store).await;
    assert_eq!(b.seq, 1, "{b}");
    assert!(b.problem.contains("the table ends at entry 0"), "{b}");
    // And a chain rewritten from scratch, hashes and all, does not match the head either.
    let (store, _dir2) = (store, dir);
    for _ in 0..2 {
        store
            .audit(NewAudit {
                kind: AuditKind::JobQueued,
                repo: None,
                job: None,
                actor: None,
                detail: json!({}),
            })
            .await
            .unwrap();
    }
    assert!(store.verify_audit().await.unwrap().is_err());
}
