//! Writing on an issue exactly once per effect, across crashes and re-runs.

use super::IntakeError;
use crate::github::repo::{Reaction, RepoClient};
use crate::ids::{CommentId, DeliveryId, IssueNumber};
use crate::store::effects::EffectState;
use serde_json::json;

use crate::store::audit::{AuditKind, NewAudit};
use crate::store::Store;
use crate::texts::{marker, with_marker, CommentKey};

pub struct Replier<'a> {
    pub store: &'a Store,
    pub client: &'a RepoClient<'a>,
    pub issue: IssueNumber,
}

impl Replier<'_> {
    /// One reply per delivery, whatever happens.
    pub async fn reply(&self, delivery: &DeliveryId, text: &str) -> Result<CommentId, IntakeError> {
        self.post_once(&CommentKey::Reply(delivery.clone()), text)
            .await
    }

    /// 👀 on the comment that asked. GitHub itself treats a repeated reaction as a no-op.
    pub async fn acknowledge(
        &self,
        delivery: &DeliveryId,
        comment: CommentId,
    ) -> Result<(), IntakeError> {
        let key = format!("eyes:{delivery}");
        if let EffectState::Done(_) = self.store.begin_effect(&key).await? {
            return Ok(());
        }
        self.client.react(comment, Reaction::Eyes).await?;
        self.store.finish_effect(&key, "").await?;
        Ok(())
    }

    /// Posts `text` once for `key`. If an earlier attempt started but did not record its
    /// result, the comment is looked for on GitHub (by its marker) before posting again.
    pub async fn post_once(&self, key: &CommentKey, text: &str) -> Result<CommentId, IntakeError> {
        let effect = key.to_string();
        match self.store.begin_effect(&effect).await? {
            EffectState::Done(id) => {
                if let Ok(id) = id.parse() {
                    return Ok(CommentId(id));
                }
            }
            EffectState::Started => {
                if let Some(id) = self.find_marked(key).await? {
                    self.store.finish_effect(&effect, &id.to_string()).await?;
                    return Ok(id);
                }
            }
            EffectState::Fresh => {}
        }
        let comment = self
            .client
            .create_comment(self.issue, &with_marker(text, key))
            .await?;
        self.store
            .finish_effect(&effect, &comment.id.to_string())
            .await?;
        self.store
            .audit(NewAudit {
                kind: AuditKind::CommentWritten,
                repo: Some(&self.client.repo().0),
                job: None,
                actor: None,
                detail: json!({"issue": self.issue.0, "comment": comment.id.0, "key": effect}),
            })
            .await?;
        Ok(comment.id)
    }

    async fn find_marked(&self, key: &CommentKey) -> Result<Option<CommentId>, IntakeError> {
        let wanted = marker(key);
        let comments = self.client.comments(self.issue).await?;
        Ok(comments
            .into_iter()
            // Only a bot's comment can be agen's; a person quoting the marker is not.
            .find(|c| {
                c.body.contains(&wanted)
                    && c.user
                        .as_ref()
                        .is_some_and(|u| u.login.0.ends_with("[bot]"))
            })
            .map(|c| c.id))
    }
}
