//! The crate's rooms in the order data flows through them, bottom first, and a test that no
//! module reaches up: a module may use one in a lower layer, never one in its own layer or
//! above. (Test-only: the table is the map a newcomer reads; the test keeps it true.)

/// Layer by layer, from pure leaves up to the binary's commands.
const LAYERS: &[&[&str]] = &[
    // Pure: no I/O.
    &["ids", "markdown", "budget"],
    // Facts and mechanisms that know nothing of GitHub, jobs or providers.
    &[
        "grant",
        "event",
        "outcome",
        "command",
        "sandbox",
        "workspace",
        "sim",
        "demo_agent",
    ],
    // Decisions over facts, where facts are kept, and the images sessions may run on.
    &["policy", "store", "image"],
    // The server's configuration.
    &["config"],
    // Services: the model gateway, GitHub's API, a repository's settings, the HTTP edge, and
    // the texts agen posts.
    &["gateway", "github", "repo_config", "edge", "texts"],
    // The two processes' work (intake and the worker), and the pages people read.
    &["job", "web"],
    // The webhook extractor at the edge, which counts what it answers in web's metrics.
    &["webhook"],
    // The server that wires them.
    &["server"],
    // Commands.
    &["cli", "cli_sandbox", "demo"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The crate's top-level modules a source file names as `crate::NAME`, outside comments.
fn uses(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn no_module_imports_from_a_layer_at_or_above_its_own() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    let mut sources = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            sources.push(path);
        }
    }
    let mut wrong = Vec::new();
    for path in &sources {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
        if ["lib", "main", "layering"].contains(&module.as_str()) {
            continue;
        }
        let Some(own) = layer(&module) else {
            wrong.push(format!("src/{module} is in no layer of LAYERS: place it"));
            continue;
        };
        for used in uses(&std::fs::read_to_string(path).unwrap()) {
            match layer(&used) {
                _ if used == module => {}
                Some(theirs) if theirs < own => {}
                _ => wrong.push(format!(
                    "{} uses crate::{used}, which is not in a layer below {module}",
                    relative.display()
                )),
            }
        }
    }
    assert!(sources.len() > 50, "found only {} files", sources.len());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_uses_in_code_and_not_in_comments() {
    let source = "use crate::job::scan; // crate::server\n/// [`crate::github`]\n\
                  fn f() { crate::store::x(); }\n";
    assert_eq!(uses(source), ["job", "store"]);
}
