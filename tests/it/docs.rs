//! The documentation stands on its own: every relative link in the README and `docs/` resolves
//! to a file of the repository, and no README, doc, comment or configuration file refers to
//! anything outside it (the contract the project was built from is not shipped).

use std::path::{Path, PathBuf};

fn files_under(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() {
            if name != "node_modules" && name != "target" && !name.starts_with('.') {
                files_under(&p, exts, out);
            }
        } else if exts.iter().any(|x| name.ends_with(x)) {
            out.push(p);
        }
    }
}

/// The targets of the Markdown links `[text](target)` of `text` that are not web addresses or
/// anchors of the same page.
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        if !target.starts_with("http") && !target.starts_with('#') && !target.contains(' ') {
            links.push(target.split('#').next().unwrap_or_default().to_string());
        }
        rest = &rest[end..];
    }
    links
}

#[test]
fn every_link_of_the_readme_and_docs_resolves_inside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md"), root.join("deploy/README.md")];
    files_under(&root.join("docs"), &[".md"], &mut pages);
    assert!(pages.len() > 10, "docs/ holds the user documentation");
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("read page");
        let dir = page.parent().expect("folder");
        for link in relative_links(&text) {
            let target = dir.join(&link);
            let inside = std::fs::canonicalize(&target)
                .map(|t| t.starts_with(std::fs::canonicalize(root).expect("root")))
                .unwrap_or(false);
            if !inside {
                broken.push(format!("{}: {link}", page.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that do not resolve inside the repository: {broken:#?}"
    );
}

#[test]
fn nothing_refers_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for dir in [
        "docs", "src", "config", "deploy", "scripts", "schemas", "benches", "tests",
    ] {
        files_under(
            &root.join(dir),
            &[
                ".md", ".rs", ".toml", ".yml", ".yaml", ".py", ".sh", ".avsc", ".service",
            ],
            &mut files,
        );
    }
    // Spelled in pieces so that this file does not name them itself.
    let outside = [
        format!("../{}/", "shared"),
        format!("{}.md", "KPIS"),
        format!("{}.md", "REPORTS"),
        format!("{}.md", "DESIGN"),
        format!("{} section", "spec"),
    ];
    let mut found = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for needle in &outside {
            if text.contains(needle.as_str()) {
                found.push(format!("{}: {needle}", f.display()));
            }
        }
        // A section number of the contract ("spec" and a digit).
        let lower = text.to_ascii_lowercase();
        let numbered = lower
            .match_indices("spec ")
            .any(|(i, m)| lower[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
            && !f.ends_with(file!().rsplit('/').next().unwrap_or_default());
        if numbered {
            found.push(format!(
                "{}: a numbered section of the contract",
                f.display()
            ));
        }
    }
    assert!(
        found.is_empty(),
        "references outside the repository: {found:#?}"
    );
}
