use super::*;

async fn synchronous(conn: &mut sqlx::SqliteConnection) -> i64 {
    sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// The 2xx promise rests on this: the inbox writer's commits are fsynced (FULL = 2);
/// the rest commits NORMAL (1).
#[tokio::test]
async fn inbox_writer_commits_full_and_the_rest_normal() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("agen.db").display());
    let store = Store::open(&url).await.unwrap();
    let mut writer = store.writer_connection().await.unwrap();
    assert_eq!(synchronous(&mut writer).await, 2);
    let mut pooled = store.pool().acquire().await.unwrap();
    assert_eq!(synchronous(&mut pooled).await, 1);
}
