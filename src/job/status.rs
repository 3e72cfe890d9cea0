//! The one status comment of a job, as both processes edit it: intake when `/agen stop`
//! cancels a queued job, the worker as the job moves and ends.

use crate::github::repo::RepoClient;
use crate::github::GitHubError;
use crate::store::jobs::Job;
use crate::texts::{self, CommentKey};

/// Edits `job`'s status comment to `text` (with its marker); nothing when it has none.
pub async fn update_status(
    client: &RepoClient<'_>,
    job: &Job,
    text: &str,
) -> Result<(), GitHubError> {
    let Some(comment) = job.status_comment_id else {
        return Ok(());
    };
    let key = CommentKey::Status(job.id);
    client
        .update_comment(comment, &texts::with_marker(text, &key))
        .await?;
    Ok(())
}
