//! What a job says about itself: the status comment as the job moves, the pull request, the
//! commit message and the check run. Each text is one small function; tests snapshot them.

use std::time::Duration;

use crate::budget::Cap;
use crate::outcome::{Failure, Published, Rounds, RoundsEnd};
use crate::store::jobs::Job;
use crate::store::model_calls::JobSpend;

fn head(job: &Job) -> String {
    format!("**agen** · job {}", job.id)
}

/// `1m 05s`, `12s`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs / 60 {
        0 => format!("{secs}s"),
        mins => format!("{mins}m {:02}s", secs % 60),
    }
}

fn used(rounds: &Rounds, elapsed: Duration) -> String {
    let plural = if rounds.rounds == 1 { "" } else { "s" };
    format!("{} round{plural}, {}", rounds.rounds, duration(elapsed))
}

/// The paragraph that says what the job spent (none before a job has a spend line).
fn spent(rounds: &Rounds) -> String {
    match rounds.spend.as_str() {
        "" => String::new(),
        line => format!("\n\nSpent: {line}."),
    }
}

/// `$0.42 of $2.00 · 12 model calls · 48k tokens in, 3k out · 2 min CPU`.
pub fn spend_line(spend: &JobSpend) -> String {
    let calls = match spend.model_calls {
        1 => "1 model call".to_string(),
        n => format!("{n} model calls"),
    };
    let cpu = match spend.cpu_seconds {
        s if s < 60 => format!("{s}s CPU"),
        s => format!("{} min CPU", (s + 30) / 60),
    };
    let of = match spend.budget {
        Some(cap) => format!(" of {cap}"),
        None => String::new(),
    };
    format!(
        "{}{of} · {calls} · {} tokens in, {} out · {cpu}",
        spend.spend,
        tokens(spend.tokens_in),
        tokens(spend.tokens_out),
    )
}

/// `812`, `48k`, `1.2M`.
fn tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{}k", (n + 500) / 1_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// Which cap ended the job, in words.
pub fn budget_reason(cap: Cap) -> &'static str {
    match cap {
        Cap::Job => "the job's spend cap was reached",
        Cap::RepoMonth => "this repository's monthly spend cap was reached",
        Cap::InstallationMonth => "this installation's monthly spend cap was reached",
        Cap::AgentMonth => "this agent's monthly spend cap was reached",
        Cap::JobCpu => "the job's CPU budget was used up",
    }
}

fn pipeline_result(rounds: &Rounds) -> String {
    match &rounds.end {
        RoundsEnd::Passed if rounds.pipeline.is_empty() => {
            "no pipeline is configured in `.github/agen.yml`".into()
        }
        RoundsEnd::Passed => "the pipeline passed".into(),
        // Exit 0 with a failure: its CLI's last event said it failed (a refused model call).
        RoundsEnd::Failed(f) if f.command == "agent" && f.exit_code == 0 => {
            "the agent reported an error".into()
        }
        RoundsEnd::Failed(f) if f.command == "agent" => {
            format!("the agent failed (exit {})", f.exit_code)
        }
        RoundsEnd::Failed(f) => format!("`{}` failed (exit {})", f.command, f.exit_code),
        RoundsEnd::SetupFailed(f) => {
            format!(
                "the setup step `{}` failed (exit {})",
                f.command, f.exit_code
            )
        }
        RoundsEnd::TimedOut => "the job's time budget ran out".into(),
        RoundsEnd::Stopped => "the job was stopped".into(),
        RoundsEnd::Budget(cap) => budget_reason(*cap).into(),
    }
}

pub fn status_running(job: &Job, round: u32, max_rounds: u32) -> String {
    format!(
        "{} is running: round {round} of {max_rounds}.\n\n\
         Requested by @{}. `/agen stop` cancels it, `/agen status` shows where it is.",
        head(job),
        job.requested_by
    )
}

/// The line that ends a job's last status and its pull request: where to see every step.
pub fn page_link(url: &str, days: u64) -> String {
    format!("\n\n[Job page]({url}): every step and the session log (the link holds {days} days).")
}

pub fn status_setting_up(job: &Job) -> String {
    format!(
        "{} is running the repository's setup steps.\n\n\
         Requested by @{}. `/agen stop` cancels it, `/agen status` shows where it is.",
        head(job),
        job.requested_by
    )
}

pub fn status_failed(job: &Job, detail: &str) -> String {
    format!("{} failed: {detail}", head(job))
}

pub fn status_cancelled_run(job: &Job, rounds: &Rounds, elapsed: Duration) -> String {
    format!(
        "{} was stopped after {}. Nothing was pushed.{}",
        head(job),
        used(rounds, elapsed),
        spent(rounds)
    )
}

pub fn status_timed_out(job: &Job, rounds: &Rounds, elapsed: Duration) -> String {
    format!(
        "{} ran out of time after {}. Nothing was pushed.{}",
        head(job),
        used(rounds, elapsed),
        spent(rounds)
    )
}

/// The job ended at a cap without a change to offer.
pub fn status_budget(job: &Job, rounds: &Rounds, cap_text: &str, elapsed: Duration) -> String {
    format!(
        "{} stopped after {}: {cap_text}. Nothing was pushed.{}",
        head(job),
        used(rounds, elapsed),
        spent(rounds)
    )
}

pub fn status_refused(job: &Job, reasons: &[String]) -> String {
    let list: String = reasons.iter().map(|r| format!("- {r}\n")).collect();
    format!(
        "{} finished, but nothing was pushed: the change holds what agen never pushes.\n\n{list}\n\
         Remove these from the task or the repository's setup and write `/agen retry`.",
        head(job)
    )
}

/// The agent or a setup step failed and nothing changed: what it said, quoted.
pub fn status_failed_unchanged(
    job: &Job,
    rounds: &Rounds,
    failure: &Failure,
    elapsed: Duration,
) -> String {
    format!(
        "{} failed: {} ({}). Nothing was pushed.\n\n{}{}",
        head(job),
        pipeline_result(rounds),
        used(rounds, elapsed),
        super::untrusted::quoted(
            &super::untrusted::tail(failure.output_tail.as_bytes(), 2_000),
            2_000
        )
        .trim_end(),
        spent(rounds)
    )
}

pub fn status_no_changes(job: &Job, rounds: &Rounds, elapsed: Duration) -> String {
    format!(
        "{} finished without changing anything ({}), so there is no pull request.{}",
        head(job),
        used(rounds, elapsed),
        spent(rounds)
    )
}

pub fn status_published(
    job: &Job,
    rounds: &Rounds,
    published: &Published,
    elapsed: Duration,
) -> String {
    let outcome = match rounds.end {
        RoundsEnd::Passed => "opened",
        _ => "opened as a draft",
    };
    format!(
        "{} {outcome} #{} ({}): {} after {}.{}\n\nBranch `{}`, commit {}. A person reviews and merges; agen never does.",
        head(job),
        published.pr_number,
        published.pr_url,
        pipeline_result(rounds),
        used(rounds, elapsed),
        spent(rounds),
        published.branch,
        published.sha,
    )
}

pub fn unprotected_default_branch(branch: &str) -> String {
    format!(
        "\n\n⚠️ No rule on `{branch}` requires a reviewed pull request, so anyone with write \
         access can merge without review. A branch ruleset that requires pull requests makes the \
         review a rule, not a habit."
    )
}

pub fn pull_title(job: &Job) -> String {
    let title = crate::markdown::sanitize(&job.title);
    let title = title.trim();
    if title.is_empty() {
        format!("agen: work on #{}", job.issue)
    } else {
        format!("agen: {title}")
    }
}

pub fn pull_body(job: &Job, rounds: &Rounds, summary: &str, elapsed: Duration) -> String {
    let closes = if job.is_pull_request {
        format!("For #{}.", job.issue)
    } else {
        format!("Closes #{}.", job.issue)
    };
    format!(
        "{summary}\n\n---\n\n{closes} Requested by @{}.\n\n\
         **Pipeline:** {}.\n**Used:** {}.\n**Spent:** {}.\n\n{}",
        job.requested_by,
        pipeline_result(rounds),
        used(rounds, elapsed),
        rounds.spend,
        pipeline_lines(rounds),
    )
}

fn pipeline_lines(rounds: &Rounds) -> String {
    rounds.pipeline.iter().map(|l| format!("- {l}\n")).collect()
}

pub fn commit_message(job: &Job) -> String {
    // GitHub credits a co-author by this address: `ID+login` for every account since 2017.
    let email = match job.requested_by_id {
        Some(id) => format!("{id}+{}@users.noreply.github.com", job.requested_by),
        None => format!("{}@users.noreply.github.com", job.requested_by),
    };
    format!(
        "{}\n\nWork on #{} asked for by @{}, done by agen (job {}).\n\n\
         Co-authored-by: {} <{email}>\n",
        pull_title(job),
        job.issue,
        job.requested_by,
        job.id,
        job.requested_by,
    )
}

pub fn check_title(end: &RoundsEnd) -> &'static str {
    match end {
        RoundsEnd::Passed => "Pipeline passed",
        RoundsEnd::Failed(f) if f.command == "agent" => "Agent failed",
        RoundsEnd::Failed(_) => "Pipeline failed",
        RoundsEnd::SetupFailed(_) => "Setup failed",
        RoundsEnd::TimedOut => "Time budget ran out",
        RoundsEnd::Stopped => "Stopped",
        RoundsEnd::Budget(Cap::JobCpu) => "CPU budget used up",
        RoundsEnd::Budget(_) => "Spend cap reached",
    }
}

pub fn check_summary(job: &Job, rounds: &Rounds, elapsed: Duration) -> String {
    format!(
        "Job {} for #{}, requested by @{}: {} ({}).{}",
        job.id,
        job.issue,
        job.requested_by,
        pipeline_result(rounds),
        used(rounds, elapsed),
        spent(rounds)
    )
}

/// Each pipeline command of the last round, then the tail of the failing one's output.
pub fn check_text(rounds: &Rounds) -> String {
    let mut text = pipeline_lines(rounds);
    if let RoundsEnd::Failed(f) | RoundsEnd::SetupFailed(f) = &rounds.end {
        text.push_str(&format!(
            "\nOutput of {} (last part):\n\n{}",
            crate::markdown::code_span(&f.command),
            super::untrusted::quoted(&f.output_tail, f.output_tail.len())
        ));
    }
    text
}
