//! Container images as the session's system (issue 15, part 1): a small image built here
//! (a static busybox and a file only it has, with umoci), pushed with skopeo to Debian's
//! `docker-registry` on 127.0.0.1, and jobs whose `environment.image` names it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::jobs::spawn_jobs;
use crate::support::{seeded_sim, spawn_with, Env, ISSUE, REPO};

const AGENT: &str = "printf 'Hello, world!\\n' > greeting.txt";
const MARKER: &str = "only in the image";

/// A `docker-registry` on a free loopback port, its storage and its log in a temporary dir.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools_present() -> bool {
    let missing: Vec<&str> = ["docker-registry", "umoci", "skopeo", "busybox"]
        .into_iter()
        .filter(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("SKIPPED: not installed: {}", missing.join(", "));
    }
    missing.is_empty()
}

impl Registry {
    fn start() -> Registry {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("storage").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, dir, addr }
    }

    /// The requests the registry served: `METHOD path` of each access-log line.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("registry.log"))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("127.0.0.1 - "))
            .filter_map(|l| l.split('"').nth(1))
            .map(|r| r.trim_end_matches(" HTTP/1.1").to_string())
            .collect()
    }

    fn blob_gets(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with("GET /v2/") && r.contains("/blobs/"))
            .count()
    }

    /// Builds the test image and pushes it as `test/busybox:1`; returns its reference and
    /// the digest of its one layer.
    fn push_image(&self) -> (String, String) {
        let work = self.dir.path().join("build");
        std::fs::create_dir(&work).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new(args[0])
                .args(&args[1..])
                .current_dir(&work)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        run(&["umoci", "init", "--layout", "img"]);
        run(&["umoci", "new", "--image", "img:1"]);
        run(&[
            "umoci",
            "unpack",
            "--rootless",
            "--image",
            "img:1",
            "bundle",
        ]);
        let rootfs = work.join("bundle/rootfs");
        let bin = rootfs.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let busybox = run(&["sh", "-c", "command -v busybox"]);
        std::fs::copy(busybox.trim(), bin.join("busybox")).unwrap();
        for applet in run(&["busybox", "--list"]).lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
            }
        }
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/only-in-image"), format!("{MARKER}\n")).unwrap();
        run(&["umoci", "repack", "--image", "img:1", "bundle"]);
        run(&[
            "umoci",
            "config",
            "--image",
            "img:1",
            "--config.env",
            "PATH=/bin",
            "--config.env",
            "FROM_IMAGE=yes",
            "--config.workingdir",
            "/work",
            "--config.user",
            "0:0",
        ]);
        let reference = format!("{}/test/busybox:1", self.addr);
        let dest = format!("docker://{reference}");
        run(&[
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            "oci:img:1",
            &dest,
        ]);
        (reference, layer_digest(&work.join("img")))
    }

    /// Flips a byte of blob `digest` in the registry's storage (same size, other content).
    fn tamper(&self, digest: &str) {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let path = self
            .dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data");
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
}

/// The digest of the one layer of the OCI layout's only image.
fn layer_digest(layout: &Path) -> String {
    let blob = |digest: &str| -> serde_json::Value {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let path: PathBuf = layout.join("blobs/sha256").join(hex);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = blob(index["manifests"][0]["digest"].as_str().unwrap());
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    layers[0]["digest"].as_str().unwrap().to_string()
}

/// A pipeline that passes only on the image: its file, its `Env` and `WorkingDir`, no host
/// tool, and the session's own uid (the image says `User: 0:0`, which does not apply).
fn agen_yml(image: &str) -> String {
    format!(
        "environment: {{ image: \"{image}\" }}\nmax_rounds: 1\npipeline:\n\
         \x20 - cat /etc/only-in-image\n\
         \x20 - test \"$FROM_IMAGE\" = yes && test \"$(pwd)\" = /work\n\
         \x20 - test ! -e /usr/bin/git\n\
         \x20 - test \"$(id -u)\" = 1000\n\
         \x20 - grep -q world greeting.txt\n"
    )
}

async fn image_job(image: &str, allowed: &str) -> Env {
    let yml = agen_yml(image);
    let env = spawn_jobs(AGENT, Some(&yml), &[("AGEN_IMAGE_REGISTRIES", allowed)]).await;
    assert_eq!(
        env.send("issues", env.labeled_payload("agen", "maintainer"))
            .await,
        202
    );
    env
}

/// Every session log of the run, one after the other.
fn session_logs(env: &Env) -> String {
    std::fs::read_dir(env.data_dir().join("logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

/// The status comment's text.
fn status_text(env: &Env, job: &agen::store::jobs::Job) -> String {
    let id = job.status_comment_id.expect("status comment").0;
    env.sim
        .comments(REPO, ISSUE)
        .into_iter()
        .find(|c| c.id == id)
        .unwrap()
        .body
}

#[tokio::test]
async fn a_job_runs_on_its_image_and_the_second_reuses_the_cache() {
    if !tools_present() {
        return;
    }
    let registry = Registry::start();
    let (image, _) = registry.push_image();
    let before = registry.blob_gets();
    let env = image_job(&image, &registry.addr).await;
    let job = env.job_ended(1).await;
    let log = session_logs(&env);
    assert_eq!(job.state.as_str(), "succeeded", "{log}");
    assert!(log.contains(MARKER), "{log}");
    let pulled = registry.blob_gets() - before;
    // The config and the one layer.
    assert_eq!(pulled, 2, "{:#?}", registry.requests());
    let cached = std::fs::read_dir(env.data_dir().join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with("sha256-"), "{cached:?}");

    env.comment("/agen retry", "maintainer").await;
    let second = env.job_ended(2).await;
    assert_eq!(second.state.as_str(), "succeeded", "{second:#?}");
    // The figure the issue asks for, printed (measured, never asserted): the first job pulls
    // and unpacks, the second finds the image unpacked.
    let total = |job: &agen::store::jobs::Job| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(job.timings.as_deref().unwrap_or("{}"))
            .unwrap_or_default()["total_ms"]
            .clone()
    };
    println!(
        "image job wall clock: first (pull + unpack) {} ms, second (cached) {} ms",
        total(&job),
        total(&second)
    );
    // The manifest was asked for again (a tag may move); no blob was.
    assert_eq!(
        registry.blob_gets() - before,
        pulled,
        "{:#?}",
        registry.requests()
    );
}

#[tokio::test]
async fn a_tampered_blob_is_refused() {
    if !tools_present() {
        return;
    }
    let registry = Registry::start();
    let (image, layer) = registry.push_image();
    registry.tamper(&layer);
    let env = image_job(&image, &registry.addr).await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    let status = status_text(&env, &job);
    assert!(
        status.contains(&format!(
            "the image `{image}` was refused: a blob did not match its digest"
        )),
        "{status}"
    );
    assert!(status.contains("push the image again"), "{status}");
    assert!(env.pulls().is_empty());
    // Nothing half-unpacked is kept.
    let cached = std::fs::read_dir(env.data_dir().join("images"))
        .unwrap()
        .count();
    assert_eq!(cached, 0);
}

#[tokio::test]
async fn a_registry_outside_the_allowlist_gets_no_request() {
    if !tools_present() {
        return;
    }
    let registry = Registry::start();
    let (image, _) = registry.push_image();
    let before = registry.requests().len();
    let env = image_job(&image, "ghcr.io").await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    let status = status_text(&env, &job);
    assert!(
        status.contains(&format!(
            "the image `{image}` comes from the registry `{}`, which this agen server does not \
             pull from (AGEN_IMAGE_REGISTRIES: ghcr.io)",
            registry.addr
        )),
        "{status}"
    );
    assert!(
        status.contains("ask the server's operator to add"),
        "{status}"
    );
    assert_eq!(
        registry.requests().len(),
        before,
        "{:#?}",
        registry.requests()
    );
}

#[tokio::test]
async fn devcontainer_true_takes_the_image_of_devcontainer_json() {
    if !tools_present() {
        return;
    }
    let registry = Registry::start();
    let (image, _) = registry.push_image();
    let (sim, repo_id) = seeded_sim().await;
    let files = tempfile::tempdir().unwrap();
    let root = files.path();
    std::fs::write(root.join("greeting.txt"), "Hello\n").unwrap();
    std::fs::create_dir_all(root.join(".github")).unwrap();
    let yml = agen_yml(&image).replace(
        &format!("environment: {{ image: \"{image}\" }}"),
        "environment: { devcontainer: true }",
    );
    std::fs::write(root.join(".github/agen.yml"), yml).unwrap();
    std::fs::create_dir_all(root.join(".devcontainer")).unwrap();
    let devcontainer =
        format!("{{\n  // the toolchain\n  \"image\": \"{image}\",\n  \"features\": {{}},\n}}\n");
    std::fs::write(root.join(".devcontainer/devcontainer.json"), devcontainer).unwrap();
    sim.seed_git_repo(REPO, root).unwrap();
    let env = spawn_with(
        sim,
        repo_id,
        &[
            ("AGEN_WORKERS", "1"),
            ("AGEN_AGENT_COMMAND", AGENT),
            ("AGEN_JOB_LEASE_SECONDS", "2"),
            ("AGEN_IMAGE_REGISTRIES", &registry.addr),
        ],
    )
    .await;
    assert_eq!(
        env.send("issues", env.labeled_payload("agen", "maintainer"))
            .await,
        202
    );
    let job = env.job_ended(1).await;
    let log = session_logs(&env);
    assert_eq!(job.state.as_str(), "succeeded", "{log}");
    // While it ran, the status comment said which image, and that the rest is ignored.
    let said = env.sim.requests().into_iter().any(|r| {
        r.method == "PATCH"
            && r.body
                .as_ref()
                .and_then(|b| b["body"].as_str())
                .is_some_and(|b| {
                    b.contains(&format!("Sessions run on the image `{image}`"))
                        && b.contains(
                            "the `image` of `.devcontainer/devcontainer.json`: its other keys (a \
                         build, features, lifecycle commands) are ignored",
                        )
                })
    });
    assert!(said, "{:#?}", env.sim.comments(REPO, ISSUE));
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_says_what_to_do() {
    if !tools_present() {
        return;
    }
    let registry = Registry::start();
    let image = format!("{}/test/missing:1", registry.addr);
    let env = image_job(&image, &registry.addr).await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    let status = status_text(&env, &job);
    assert!(
        status.contains(&format!(
            "could not pull the image `{image}` (`Registry error: url http://{}/v2/test/missing/manifests/1",
            registry.addr
        )),
        "{status}"
    );
    assert!(
        status.contains(
            "check that the image exists and that the registry is up, then `/agen retry`"
        ),
        "{status}"
    );
    assert!(env.pulls().is_empty());
}

#[tokio::test]
async fn an_image_larger_than_the_server_takes_is_refused() {
    if !tools_present() {
        return;
    }
    let registry = Registry::start();
    let (image, _) = registry.push_image();
    let yml = agen_yml(&image);
    let env = spawn_jobs(
        AGENT,
        Some(&yml),
        &[
            ("AGEN_IMAGE_REGISTRIES", &registry.addr),
            // The static busybox alone is larger.
            ("AGEN_IMAGE_MAX_MB", "1"),
        ],
    )
    .await;
    assert_eq!(
        env.send("issues", env.labeled_payload("agen", "maintainer"))
            .await,
        202
    );
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    let status = status_text(&env, &job);
    assert!(
        status.contains(&format!(
            "the image `{image}` is larger than this agen server takes (AGEN_IMAGE_MAX_MB: 1)"
        )),
        "{status}"
    );
    assert_eq!(
        std::fs::read_dir(env.data_dir().join("images"))
            .unwrap()
            .count(),
        0
    );
}
