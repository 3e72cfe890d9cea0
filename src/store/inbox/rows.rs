//! The statements the way in runs against the `inbox` table.

use std::collections::HashSet;

use futures_util::TryStreamExt;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

use super::Stamped;

/// Rows per statement at most; 6 parameters each stays far below SQLite's variable limit.
const ROWS_PER_STATEMENT: usize = 128;

/// Inserts `rows` in one transaction (one sync); ids already stored are left as they are.
pub async fn insert(conn: &mut SqliteConnection, rows: &[&Stamped]) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO inbox (delivery_id, event, action, installation_id, body, received_at) ",
        );
        q.push_values(chunk, |mut row, s| {
            let d = &s.delivery;
            row.push_bind(d.id.0.as_str())
                .push_bind(d.event.as_str())
                .push_bind(d.action.as_deref())
                .push_bind(d.installation_id.map(|i| i as i64))
                .push_bind(d.body.as_ref())
                .push_bind(s.received_at);
        });
        q.push(" ON CONFLICT (delivery_id) DO NOTHING");
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await
}

pub async fn count(conn: &mut SqliteConnection) -> Result<usize, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
        .fetch_one(conn)
        .await?;
    Ok(n.max(0) as usize)
}

/// Calls `each` with every id the table holds, without holding them all at once.
pub async fn each_id(
    conn: &mut SqliteConnection,
    mut each: impl FnMut(&str),
) -> Result<(), sqlx::Error> {
    let mut ids = sqlx::query_scalar::<_, String>("SELECT delivery_id FROM inbox").fetch(conn);
    while let Some(id) = ids.try_next().await? {
        each(&id);
    }
    Ok(())
}

/// Which of `ids` the table holds.
pub async fn stored(
    conn: &mut SqliteConnection,
    ids: &[&str],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT delivery_id FROM inbox WHERE delivery_id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        found.extend(
            q.build_query_scalar::<String>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(found)
}
