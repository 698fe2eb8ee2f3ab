//! Every link in the READMEs a user reads stays inside the repository and
//! names a file that exists: a README must be readable offline, from a
//! checkout or a package, and a moved file must not leave a dead link.

use std::path::{Path, PathBuf};

const READMES: [&str; 3] = [
    "README.md",
    "bindings/python/README.md",
    "bindings/node/README.md",
];

/// The targets of the Markdown links `[text](target)` and `<scheme://...>` in `text`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let end = after.find(')').unwrap_or(after.len());
        targets.push(after[..end].trim().to_owned());
        rest = &after[end..];
    }
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').unwrap_or(after.len());
        if after[..end].contains("://") {
            targets.push(after[..end].to_owned());
        }
        rest = &after[end..];
    }
    targets
}

fn is_external(target: &str) -> bool {
    target.contains("://") || target.starts_with("mailto:") || target.starts_with("//")
}

#[test]
fn readme_links_point_inside_the_repository_at_files_that_exist() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for readme in READMES {
        let path = root.join(readme);
        let text = std::fs::read_to_string(&path).expect("the README exists");
        let folder = path.parent().unwrap_or(Path::new("."));
        for target in link_targets(&text) {
            let file = target.split('#').next().unwrap_or_default();
            if is_external(&target) {
                broken.push(format!("{readme}: {target} points outside the repository"));
            } else if !file.is_empty() && !folder.join(file).exists() {
                broken.push(format!("{readme}: {target} names no file"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_link_reader_finds_both_forms_and_tells_external_from_local() {
    let targets = link_targets("see [the map](src/lib.rs#L1) and <https://example.com/x>.");
    assert_eq!(targets, ["src/lib.rs#L1", "https://example.com/x"]);
    assert!(is_external(&targets[1]));
    assert!(!is_external(&targets[0]));
}
