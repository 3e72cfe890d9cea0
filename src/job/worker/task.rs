//! The agent's task file (`AGEN_TASK_FILE`): the issue, the instruction and, on later rounds,
//! the last pipeline failure, as Markdown. Pure: no I/O.
//!
//! Everything here except the round numbers is untrusted: anyone may open an issue on a public
//! repository, and pipeline output is whatever the repository's code prints. A person reviews
//! the issue as GitHub *renders* it, so text GitHub hides (HTML comments, invisible and bidi
//! characters) must not reach the agent either: [`markdown::sanitize`] removes it. Untrusted blocks go
//! inside fences longer than any backtick run they hold, so no text can close its block and
//! pose as one of agen's own headings.

use crate::markdown::{code_span, fenced, one_line, sanitize, strip_invisible};

#[cfg(test)]
mod tests;

/// The untrusted parts of one round's task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInput<'a> {
    pub repo: &'a str,
    pub issue: u64,
    pub title: &'a str,
    pub body: &'a str,
    /// The `/agen …` instructions of the person who started the job (may be empty).
    pub instruction: &'a str,
    pub round: u32,
    pub max_rounds: u32,
    /// The pipeline failure of the previous round; `None` on the first round.
    pub previous_failure: Option<PipelineFailure<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineFailure<'a> {
    pub command: &'a str,
    pub exit_code: i32,
    /// The end of the command's output, e.g. from [`tail`].
    pub output_tail: &'a str,
}

/// The task file for one round.
pub fn render(input: &TaskInput) -> String {
    let title = one_line(&sanitize(input.title));
    let body = sanitize(input.body);
    let instruction = sanitize(input.instruction);
    let mut out = format!(
        "# Task: {} issue #{} (round {} of {})\n\n",
        code_span(input.repo),
        input.issue,
        input.round,
        input.max_rounds
    );
    out.push_str("Resolve the issue below by editing the files in this repository. The issue ");
    out.push_str("and the instruction are quoted as their authors wrote them, minus the text ");
    out.push_str("GitHub does not show.\n\n## The issue\n\n");
    out.push_str(&format!("**Title:** {}\n\n", code_span(&title)));
    if body.trim().is_empty() {
        out.push_str("The issue has no description.\n\n");
    } else {
        out.push_str(&fenced("markdown", &body));
    }
    out.push_str("## The instruction\n\n");
    if instruction.trim().is_empty() {
        out.push_str("No further instruction: resolve the issue as described.\n\n");
    } else {
        out.push_str("From the person who started this job:\n\n");
        out.push_str(&fenced("markdown", &instruction));
    }
    if let Some(failure) = &input.previous_failure {
        out.push_str("## The pipeline failed after the last round\n\n");
        out.push_str(&format!(
            "This command exited with status {}:\n\n",
            failure.exit_code
        ));
        out.push_str(&fenced("sh", &strip_invisible(failure.command)));
        out.push_str("The end of its output:\n\n");
        out.push_str(&fenced("text", &strip_invisible(failure.output_tail)));
        out.push_str("Fix the cause; agen runs the pipeline again after this round.\n");
    }
    out
}
