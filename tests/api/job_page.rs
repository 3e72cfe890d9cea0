//! The job page: reached only through a link agen signed, for that job, before it expires;
//! everything else gets one and the same 404. What the agent printed is shown escaped.

use agen::ids::JobId;

use crate::support::jobs::{spawn_jobs, PIPELINE};

const HOSTILE: &str = "<script>alert('agen')</script><img src=x onerror=alert(1)>";

#[tokio::test]
async fn a_signed_link_shows_the_job_and_nothing_else_gets_in() {
    let agent = format!("echo \"{HOSTILE}\" && printf 'Hello, world!\\n' > greeting.txt");
    let env = spawn_jobs(&agent, Some(PIPELINE), &[]).await;
    let job = env.run_one().await;
    let key = env.app.store.link_key().await.unwrap();
    let later = chrono::Utc::now().timestamp() + 3600;
    let link = agen::store::link_key::path(&key, job.id, later);

    let (status, headers, page) = env.get(&link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>agen job 1: succeeded</h1>"), "{page}");
    assert!(page.contains("@maintainer (label)"), "{page}");
    assert!(page.contains("==&gt; round 1: agent"), "{page}");
    // The agent's markup is text on the page, and the page runs nothing.
    assert!(
        page.contains("&lt;script&gt;alert(&#39;agen&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<script") && !page.contains("<img"),
        "{page}"
    );
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(headers["referrer-policy"], "no-referrer");

    // The check run links to the same page, for AGEN_LINK_DAYS.
    let runs = env.sim.check_runs(crate::support::REPO);
    let details = runs[0]["details_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let from_check = &details[details.find("/jobs/1?").expect("a job page link")..];
    let (status, _, linked) = env.get(from_check).await;
    assert_eq!(status, 200, "{details}");
    assert!(linked.contains("<h1>agen job 1: succeeded</h1>"));
    let expires: i64 = from_check
        .split("exp=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let days = (expires - chrono::Utc::now().timestamp()) as f64 / 86400.0;
    assert!((6.9..=7.0).contains(&days), "{days} days");

    // The status comment and the pull request carry a link to it too.
    let status_id = job.status_comment_id.unwrap().0;
    let comments = env
        .sim
        .comments(crate::support::REPO, crate::support::ISSUE);
    let status = &comments.iter().find(|c| c.id == status_id).unwrap().body;
    let body = env.pulls()[0]["body"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for text in [status.as_str(), body.as_str()] {
        let at = text.find("[Job page](").expect("a job page link") + "[Job page](".len();
        let url = &text[at..at + text[at..].find(')').unwrap()];
        let (status, _, page) = env.get(&url[url.find("/jobs/").unwrap()..]).await;
        assert_eq!(status, 200, "{url}");
        assert!(page.contains("<h1>agen job 1: succeeded</h1>"));
    }

    // Every link that does not hold is the same 404 as a job that is not there.
    let (_, _, missing) = env
        .get(&agen::store::link_key::path(&key, JobId(99), later))
        .await;
    let past = chrono::Utc::now().timestamp() - 1;
    let tampered = link.replace("sig=", "sig=0").replacen("sig=00", "sig=1", 1);
    for bad in [
        agen::store::link_key::path(&key, job.id, past),
        agen::store::link_key::path(b"not agen's key", job.id, later),
        link.replace("/jobs/1?", "/jobs/2?"),
        link.replace(&format!("exp={later}"), &format!("exp={}", later + 1)),
        tampered,
        "/jobs/1".to_string(),
        "/jobs/1?exp=x&sig=y".to_string(),
        "/jobs/one?exp=1&sig=00".to_string(),
    ] {
        let (status, _, body) = env.get(&bad).await;
        assert_eq!((status, &body), (404, &missing), "{bad}");
    }
    assert!(missing.starts_with("no such job page"), "{missing}");

    // Once the log is deleted, the page says when and by whom, and shows none of it.
    env.comment("/agen logs delete", "owner").await;
    env.settle().await;
    let (_, _, page) = env.get(&link).await;
    assert!(page.contains("The session log was deleted on "), "{page}");
    assert!(page.contains(" by @owner.</p>"), "{page}");
    assert!(!page.contains("round 1: agent"), "{page}");
}
