//! Check runs: agen reports each job once, completed, on the commit it pushed (or on the base
//! commit when there was nothing to push), so no run is ever left in progress.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::repo::RepoClient;
use super::GitHubError;
use crate::ids::CheckRunId;

/// GitHub's limit on a check run's `summary` and `text`, in characters.
pub const MAX_OUTPUT_CHARS: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    Success,
    Failure,
    TimedOut,
    Cancelled,
    Neutral,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::TimedOut => "timed_out",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Neutral => "neutral",
        }
    }
}

pub struct CompletedRun<'a> {
    pub head_sha: &'a str,
    pub conclusion: Conclusion,
    /// `job:<id>`: how a "Re-run" request finds its job again.
    pub external_id: &'a str,
    pub details_url: Option<&'a str>,
    pub title: &'a str,
    pub summary: &'a str,
    pub text: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiCheckRun {
    pub id: CheckRunId,
    pub html_url: Option<String>,
}

/// Cuts `text` to GitHub's limit, saying so at the end when it did.
pub fn clamp_output(text: &str) -> String {
    const MARK: &str = "\n\n… (truncated: the whole output is in the session log)";
    if text.chars().count() <= MAX_OUTPUT_CHARS {
        return text.to_string();
    }
    let keep = MAX_OUTPUT_CHARS - MARK.chars().count();
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(MARK);
    out
}

impl RepoClient<'_> {
    pub async fn complete_check_run(
        &self,
        run: &CompletedRun<'_>,
    ) -> Result<ApiCheckRun, GitHubError> {
        let mut body = json!({
            "name": "agen", "head_sha": run.head_sha, "status": "completed",
            "conclusion": run.conclusion.as_str(), "external_id": run.external_id,
            "completed_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "output": {
                "title": clamp_output(run.title), "summary": clamp_output(run.summary),
                "text": clamp_output(run.text),
            },
        });
        if let Some(url) = run.details_url {
            body["details_url"] = json!(url);
        }
        let path = format!("{}/check-runs", self.repo().api_path());
        self.call(Method::POST, path, Some(body)).await
    }
}

#[cfg(test)]
mod tests;
