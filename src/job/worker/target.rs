//! Where a job starts from and where its work goes: an issue starts from the default
//! branch; `/agen` on agen's own pull request continues on its branch; on a person's pull
//! request agen opens its own pull request against that branch and never pushes to it.

use super::job_run::{JobError, JobRun};

#[derive(Debug, Clone)]
pub struct Target {
    /// The commit the worktree starts from.
    pub base_sha: String,
    /// The branch a new pull request targets.
    pub base_branch: String,
    /// Set when continuing agen's own pull request: its branch and number.
    pub continues: Option<(String, u64)>,
}

impl JobRun<'_> {
    pub(super) async fn target(&self) -> Result<Target, JobError> {
        if !self.job.is_pull_request {
            let default = &self.info.default_branch;
            return Ok(Target {
                base_sha: self.client.branch_head(default).await?,
                base_branch: default.clone(),
                continues: None,
            });
        }
        let number = self.job.issue.0;
        let pull = self
            .client
            .pulls(None)
            .await?
            .into_iter()
            .find(|p| p.number == number)
            .ok_or_else(|| JobError::User(format!("pull request #{number} was not found")))?;
        let same_repo = pull
            .head
            .repo
            .as_ref()
            .is_some_and(|r| r.full_name.eq_ignore_ascii_case(&self.job.repo.0));
        if !same_repo {
            return Err(JobError::User(
                "agen works only on pull requests whose branch is in this repository, \
                 not on pull requests from forks"
                    .into(),
            ));
        }
        let continues = pull
            .head
            .branch
            .starts_with("agen/")
            .then(|| (pull.head.branch.clone(), number));
        Ok(Target {
            base_sha: pull.head.sha,
            base_branch: pull.head.branch,
            continues,
        })
    }
}
