//! The documentation stands on its own: every test the README names as proof exists, every
//! repository path it names is there, and nothing in the repository points outside it.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Names of the `#[test]` functions in `tests/<module>.rs` (or `tests/<module>/*.rs`).
fn tests_of(module: &str) -> Vec<String> {
    let file = root().join("tests").join(format!("{module}.rs"));
    let dir = root().join("tests").join(module);
    let sources: Vec<PathBuf> = if file.is_file() {
        vec![file]
    } else if dir.is_dir() {
        fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    } else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for source in sources {
        let text = fs::read_to_string(&source).unwrap_or_default();
        let mut after_test = false;
        for line in text.lines().map(str::trim) {
            if line == "#[test]" {
                after_test = true;
            } else if after_test {
                if let Some(rest) = line.strip_prefix("fn ") {
                    names.extend(rest.split('(').next().map(str::to_owned));
                    after_test = false;
                } else if !line.starts_with("#[") {
                    after_test = false;
                }
            }
        }
    }
    names
}

/// Every inline `code span` of a Markdown text (fenced blocks left out).
fn code_spans(text: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_test_the_readme_names_exists() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let mut checked = 0;
    for span in &code_spans(&readme) {
        // `module::name` or `module::prefix_*`, where module is a test target.
        let Some((module, name)) = span.split_once("::") else {
            continue;
        };
        let ident = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let pattern = name.strip_suffix('*').unwrap_or(name);
        if module.is_empty() || !ident(module) || !ident(pattern) {
            continue;
        }
        let tests_dir = root().join("tests");
        let is_target =
            tests_dir.join(format!("{module}.rs")).is_file() || tests_dir.join(module).is_dir();
        if !is_target {
            // A Rust path such as `ringcast::proto`, not a test.
            continue;
        }
        let tests = tests_of(module);
        let found = if name.ends_with('*') {
            tests.iter().any(|t| t.starts_with(pattern))
        } else {
            tests.iter().any(|t| t == pattern)
        };
        assert!(
            found,
            "README names `{span}`, which is not a test in tests/{module}"
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "only {checked} test names found in the README"
    );
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    for doc in [
        "README.md",
        "docs/architecture.md",
        "bench/loadgen/README.md",
    ] {
        let text = fs::read_to_string(root().join(doc)).unwrap();
        for span in &code_spans(&text) {
            let path = span.split_whitespace().next().unwrap_or_default();
            let rooted = ["tests/", "scripts/", "bench/", "docs/", "fuzz/"]
                .iter()
                .any(|p| path.starts_with(p));
            if rooted && !path.contains(['*', '{', '<', '$']) {
                assert!(
                    root().join(path).exists(),
                    "{doc} names `{path}`, which is missing"
                );
            }
        }
    }
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("](docs/architecture.md)"),
        "the README links the architecture document"
    );
}

#[test]
fn nothing_in_the_repository_points_outside_it() {
    let outside = ["..", "/shared"].concat();
    let mut stack = vec![root().to_path_buf()];
    let skip = ["target", ".git", "node_modules", ".venv", "corpus"];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !skip.contains(&name.as_str()) {
                    stack.push(path);
                }
            } else if let Ok(text) = fs::read_to_string(&path) {
                assert!(
                    !text.contains(&outside),
                    "{} refers to {outside}",
                    path.display()
                );
            }
        }
    }
}
