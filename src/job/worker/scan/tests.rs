//! Token-shaped values are assembled at run time, so this file itself holds none (secret
//! scanners, GitHub's push protection among them, would rightly refuse it).

use super::*;

fn ghp(n: usize) -> String {
    format!("gh{}_{}", "p", &"a1B2c3D4e5".repeat(5)[..n])
}
fn aws(prefix: &str) -> String {
    format!("{prefix}{}", "IOSFODNN7EXAMPLE")
}
fn pem(label: &str) -> String {
    format!("-----{} {label}-----", "BEGIN")
}
fn slack(rest: &str) -> String {
    format!("xo{}{rest}", "xb-")
}

const STORED: &str = "s3cr3t-value-42";

fn lines(texts: &[String]) -> Vec<AddedLine> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| AddedLine {
            path: "src/config.rs".into(),
            line: i as u32 + 10,
            text: text.clone(),
        })
        .collect()
}

#[test]
fn each_kind_is_found_on_its_line() {
    use SecretKind::*;
    let cases: Vec<(String, Vec<SecretKind>)> = vec![
        (format!("token = \"{}\"", ghp(36)), vec![GitHubToken]),
        (format!("Bearer {}", ghp(40)), vec![GitHubToken]),
        (ghp(36).replace("ghp_", "gho_"), vec![GitHubToken]),
        (ghp(36).replace("ghp_", "ghs_"), vec![GitHubToken]),
        (ghp(36).replace("ghp_", "ghu_"), vec![GitHubToken]),
        (ghp(36).replace("ghp_", "ghr_"), vec![GitHubToken]),
        (
            format!("github_pat_{}", "11AB_cd".repeat(4)),
            vec![GitHubToken],
        ),
        (format!("key={}", aws("AKIA")), vec![AwsAccessKey]),
        (format!("({})", aws("ASIA")), vec![AwsAccessKey]),
        (pem("RSA PRIVATE KEY"), vec![PrivateKey]),
        (pem("EC PRIVATE KEY"), vec![PrivateKey]),
        (pem("OPENSSH PRIVATE KEY"), vec![PrivateKey]),
        (pem("DSA PRIVATE KEY"), vec![PrivateKey]),
        (
            format!("  \"{}\\n", pem("ENCRYPTED PRIVATE KEY")),
            vec![PrivateKey],
        ),
        (pem("PRIVATE KEY"), vec![PrivateKey]),
        (pem("PGP PRIVATE KEY BLOCK"), vec![PrivateKey]),
        (slack("1234567890-abcdefABCDEF"), vec![SlackToken]),
        (
            slack("123-456-abc").replace("xoxb", "xoxp"),
            vec![SlackToken],
        ),
        (format!("xo{}", slack("1234567890")), vec![SlackToken]),
        (format!("password: {STORED}"), vec![AgenSecret]),
        (
            format!("{} {} {}", aws("AKIA"), ghp(36), ghp(36)),
            vec![GitHubToken, AwsAccessKey],
        ),
    ];
    for (text, kinds) in cases {
        let found = scan(&lines(&["clean".into(), text.clone()]), &[STORED]);
        let want: Vec<Finding> = kinds
            .into_iter()
            .map(|kind| Finding {
                path: "src/config.rs".into(),
                line: 11,
                kind,
            })
            .collect();
        assert_eq!(found, want, "{text}");
    }
}

#[test]
fn near_misses_are_not_findings() {
    let cases = [
        ghp(10),
        ghp(35),
        ghp(36).replace("ghp_", "ghx_"),
        ghp(36).replace("ghp_", "ghp-"),
        format!("github_pat_{}", "short"),
        format!("X{}", aws("AKIA")),
        format!("{}X", aws("AKIA")),
        format!("my_{}", aws("AKIA")),
        aws("AKIA").to_lowercase(),
        aws("AKIA")[..19].to_string(),
        aws("AKIA").replace("AKIA", "AKIB"),
        pem("PUBLIC KEY"),
        pem("CERTIFICATE"),
        pem("RSA PRIVATE KEY").trim_end_matches('-').to_string(),
        "-----BEGIN private key-----".into(),
        slack("short"),
        slack("1234567890").replace("xoxb", "xoxz"),
        "the word ghost and xoxo, a private key talk".into(),
        "s3cr3t".into(), // a prefix of a stored secret is not the secret
    ];
    for text in cases {
        let found = scan(&lines(std::slice::from_ref(&text)), &[STORED, "short"]);
        assert!(found.is_empty(), "{text}: {found:?}");
    }
    // Known secrets under 8 characters are ignored: they would match everywhere.
    assert!(scan(&lines(&["a pass word".into()]), &["pass"]).is_empty());
}

#[test]
fn display_names_place_and_kind_never_the_value() {
    let token = ghp(36);
    let found = scan(
        &[AddedLine {
            path: "deploy/`odd`.env".into(),
            line: 3,
            text: format!("{token} {STORED}"),
        }],
        &[STORED],
    );
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "``deploy/`odd`.env`` line 3: a GitHub token",
            "``deploy/`odd`.env`` line 3: a secret stored with agen",
        ]
    );
    for text in shown.iter().chain([format!("{found:?}")].iter()) {
        assert!(!text.contains(&token) && !text.contains(STORED), "{text}");
    }
}

#[test]
fn redact_replaces_every_secret_and_pattern() {
    let key = format!(
        "{}\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----",
        pem("RSA PRIVATE KEY")
    );
    let cases = [
        ("nothing here".to_string(), "nothing here".to_string()),
        (format!("t={} ok", ghp(36)), "t=[redacted] ok".into()),
        (format!("{STORED}{STORED}"), "[redacted]".into()),
        (
            format!("[{}] [{STORED}]", aws("ASIA")),
            "[[redacted]] [[redacted]]".into(),
        ),
        (
            format!("a {} b", slack("1234567890-x")),
            "a [redacted] b".into(),
        ),
        (
            format!("before\n{key}\nafter"),
            "before\n[redacted]\nafter".into(),
        ),
        (
            format!("cut {}\nMIIE", pem("PRIVATE KEY")),
            "cut [redacted]".into(),
        ),
        (
            "ünïcödé s3cr3t-value-42 ✓".into(),
            "ünïcödé [redacted] ✓".into(),
        ),
        // Overlapping secrets merge: no piece of either survives.
        ("xxabcdefgh12345678yy".into(), "xx[redacted]yy".into()),
        ("aaaaaaaaa".into(), "[redacted]".into()),
        ("a pass".into(), "a pass".into()),
    ];
    let known = [STORED, "abcdefgh1234", "gh12345678", "aaaaaaaa", "pass", ""];
    for (text, want) in cases {
        assert_eq!(redact(&text, &known), want, "{text}");
    }
}

#[test]
fn workflows_and_large_files_are_refused() {
    let paths: Vec<(String, u64)> = [
        ("src/main.rs", 100),
        (".github/workflows/ci.yml", 10),
        (".GitHub/Workflows/x.yaml", 10),
        ("./.github//workflows/deep/y.yml", 10),
        (".github/workflows", 10),
        (".github/dependabot.yml", 10),
        ("docs/.github/workflows/ci.yml", 10),
        ("assets/big.bin", 1001),
        (".github/workflows/huge.yml", 5000),
        ("exact.bin", 1000),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), *s))
    .collect();
    let refused: Vec<String> = refused_paths(&paths, 1000)
        .iter()
        .map(ToString::to_string)
        .collect();
    let workflow = ": agen never pushes changes to GitHub Actions workflows";
    assert_eq!(
        refused,
        [
            format!("`.github/workflows/ci.yml`{workflow}"),
            format!("`.GitHub/Workflows/x.yaml`{workflow}"),
            format!("`./.github//workflows/deep/y.yml`{workflow}"),
            format!("`.github/workflows`{workflow}"),
            "`assets/big.bin`: 1001 bytes, above the limit of 1000 bytes".into(),
            format!("`.github/workflows/huge.yml`{workflow}"),
            "`.github/workflows/huge.yml`: 5000 bytes, above the limit of 1000 bytes".into(),
        ]
    );
    assert_eq!(
        refused_paths(&[("a".into(), 7)], 5)[0].reason,
        RefusalReason::TooLarge { size: 7, limit: 5 }
    );
}
