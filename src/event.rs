//! The GitHub events agen acts on, as types. Only the fields agen reads are declared; every
//! other field is ignored, so GitHub adding fields never breaks parsing. A delivery agen does
//! not act on, or cannot read, becomes [`Event::Ignored`] with the reason: recorded, never an
//! error.

use serde::Deserialize;

use crate::ids::{CheckRunId, CommentId, InstallationId, IssueNumber, Login, RepoId, RepoName};

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Installation(InstallationChange),
    InstallationRepositories(RepositoriesChange),
    IssueLabeled(IssueLabeled),
    CommentCreated(CommentCreated),
    CheckRunRequested(CheckRunRequested),
    Ignored { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub login: Login,
    /// The account's numeric id (its commit e-mail `ID+login@users.noreply.github.com`).
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl User {
    /// GitHub marks Apps (agen included) as `type: "Bot"`; their logins end in `[bot]`.
    pub fn is_bot(&self) -> bool {
        self.kind.eq_ignore_ascii_case("bot") || self.login.0.ends_with("[bot]")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Repository {
    pub id: RepoId,
    pub full_name: RepoName,
    #[serde(default)]
    pub private: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Installation {
    pub id: InstallationId,
    pub account: Option<User>,
    #[serde(default)]
    pub repository_selection: Option<String>,
    #[serde(default)]
    pub suspended_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationAction {
    Created,
    Deleted,
    Suspend,
    Unsuspend,
    NewPermissionsAccepted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstallationChange {
    pub action: InstallationAction,
    pub installation: Installation,
    /// Present on `created` when the selection is `selected`.
    pub repositories: Option<Vec<Repository>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RepositoriesChange {
    pub installation: Installation,
    pub selection: String,
    pub added: Vec<Repository>,
    pub removed: Vec<Repository>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Issue {
    pub number: IssueNumber,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    /// Set when the "issue" is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

impl Issue {
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }
}

/// Where a trigger came from: the fields every acted-on event shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub installation: InstallationId,
    pub repository: Repository,
    pub sender: User,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IssueLabeled {
    pub origin: Origin,
    pub issue: Issue,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Comment {
    pub id: CommentId,
    #[serde(default)]
    pub body: String,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommentCreated {
    pub origin: Origin,
    pub issue: Issue,
    pub comment: Comment,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckRun {
    pub id: CheckRunId,
    #[serde(default)]
    pub external_id: Option<String>,
    pub app: Option<AppRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppRef {
    pub id: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckRunRequested {
    pub origin: Origin,
    pub check_run: CheckRun,
    /// `requested_action`'s identifier, or `None` for a plain re-run.
    pub action_identifier: Option<String>,
}

/// The envelope every payload shares; `installation` is absent on non-App deliveries.
#[derive(Deserialize)]
struct Envelope {
    action: Option<String>,
    installation: Option<InstallationRef>,
    repository: Option<Repository>,
    sender: Option<User>,
}

#[derive(Deserialize)]
struct InstallationRef {
    id: InstallationId,
}

impl Event {
    /// Reads a verified delivery. Never fails: what agen cannot use is `Ignored`.
    pub fn parse(event: &str, body: &[u8]) -> Event {
        match parse_known(event, body) {
            Ok(Some(e)) => e,
            Ok(None) => Event::Ignored {
                reason: format!("agen does not act on {}", describe(event, body)),
            },
            Err(e) => Event::Ignored {
                reason: format!("unreadable {}: {e}", describe(event, body)),
            },
        }
    }
}

fn describe(event: &str, body: &[u8]) -> String {
    match serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.action)
    {
        Some(action) => format!("{event}.{action}"),
        None => event.to_string(),
    }
}

fn parse_known(event: &str, body: &[u8]) -> Result<Option<Event>, serde_json::Error> {
    let envelope: Envelope = serde_json::from_slice(body)?;
    let action = envelope.action.as_deref().unwrap_or("");
    Ok(match (event, action) {
        ("installation", _) => installation_action(action)
            .map(|a| parse_installation(a, body))
            .transpose()?,
        ("installation_repositories", "added" | "removed") => {
            Some(parse_repositories_change(body)?)
        }
        ("issues", "labeled") => origin(envelope)
            .map(|o| parse_labeled(o, body))
            .transpose()?,
        ("issue_comment", "created") => origin(envelope)
            .map(|o| parse_comment(o, body))
            .transpose()?,
        ("check_run", "rerequested" | "requested_action") => origin(envelope)
            .map(|o| parse_check_run(o, body))
            .transpose()?,
        _ => None,
    })
}

fn installation_action(action: &str) -> Option<InstallationAction> {
    Some(match action {
        "created" => InstallationAction::Created,
        "deleted" => InstallationAction::Deleted,
        "suspend" => InstallationAction::Suspend,
        "unsuspend" => InstallationAction::Unsuspend,
        "new_permissions_accepted" => InstallationAction::NewPermissionsAccepted,
        _ => return None,
    })
}

/// An event is only actionable when it came through an installation, about a repository,
/// from someone: deliveries to a plain repository webhook lack `installation`.
fn origin(envelope: Envelope) -> Option<Origin> {
    Some(Origin {
        installation: envelope.installation?.id,
        repository: envelope.repository?,
        sender: envelope.sender?,
    })
}

fn parse_installation(action: InstallationAction, body: &[u8]) -> Result<Event, serde_json::Error> {
    #[derive(Deserialize)]
    struct Payload {
        installation: Installation,
        repositories: Option<Vec<Repository>>,
    }
    let p: Payload = serde_json::from_slice(body)?;
    Ok(Event::Installation(InstallationChange {
        action,
        installation: p.installation,
        repositories: p.repositories,
    }))
}

fn parse_repositories_change(body: &[u8]) -> Result<Event, serde_json::Error> {
    #[derive(Deserialize)]
    struct Payload {
        installation: Installation,
        repository_selection: String,
        #[serde(default)]
        repositories_added: Vec<Repository>,
        #[serde(default)]
        repositories_removed: Vec<Repository>,
    }
    let p: Payload = serde_json::from_slice(body)?;
    Ok(Event::InstallationRepositories(RepositoriesChange {
        installation: p.installation,
        selection: p.repository_selection,
        added: p.repositories_added,
        removed: p.repositories_removed,
    }))
}

fn parse_labeled(origin: Origin, body: &[u8]) -> Result<Event, serde_json::Error> {
    #[derive(Deserialize)]
    struct Label {
        name: String,
    }
    #[derive(Deserialize)]
    struct Payload {
        issue: Issue,
        label: Label,
    }
    let p: Payload = serde_json::from_slice(body)?;
    Ok(Event::IssueLabeled(IssueLabeled {
        origin,
        issue: p.issue,
        label: p.label.name,
    }))
}

fn parse_comment(origin: Origin, body: &[u8]) -> Result<Event, serde_json::Error> {
    #[derive(Deserialize)]
    struct Payload {
        issue: Issue,
        comment: Comment,
    }
    let p: Payload = serde_json::from_slice(body)?;
    Ok(Event::CommentCreated(CommentCreated {
        origin,
        issue: p.issue,
        comment: p.comment,
    }))
}

fn parse_check_run(origin: Origin, body: &[u8]) -> Result<Event, serde_json::Error> {
    #[derive(Deserialize)]
    struct Action {
        identifier: String,
    }
    #[derive(Deserialize)]
    struct Payload {
        check_run: CheckRun,
        requested_action: Option<Action>,
    }
    let p: Payload = serde_json::from_slice(body)?;
    Ok(Event::CheckRunRequested(CheckRunRequested {
        origin,
        check_run: p.check_run,
        action_identifier: p.requested_action.map(|a| a.identifier),
    }))
}

#[cfg(test)]
mod tests;
