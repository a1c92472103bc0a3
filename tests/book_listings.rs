//! The book's listings cannot rot: every `{{#include path:anchor}}` in
//! `book/src` must name an existing file and, if given, an anchor that the
//! file opens and closes (`ANCHOR: name` … `ANCHOR_END: name`). mdBook
//! itself only warns — sometimes not even that — so this test is the guard.

use std::path::{Path, PathBuf};

fn includes(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("{{#include ") {
        let after = &rest[start + "{{#include ".len()..];
        let end = after.find("}}").expect("unterminated {{#include");
        out.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    out
}

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src")
}

#[test]
fn every_include_names_a_real_file_and_anchor() {
    let mut checked = 0;
    for entry in std::fs::read_dir(book_src()).unwrap() {
        let page = entry.unwrap().path();
        if page.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&page).unwrap();
        for inc in includes(&text) {
            // `path`, `path:anchor`, or `path:from:to` (line numbers).
            let mut parts = inc.split(':');
            let file = parts.next().unwrap();
            let anchor = parts
                .next()
                .filter(|a| !a.is_empty() && !a.chars().all(|c| c.is_ascii_digit()));
            let path = book_src().join(file);
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: includes {file}: {e}", page.display()));
            if let Some(a) = anchor {
                let opens = source
                    .lines()
                    .filter(|l| l.trim_end().ends_with(&format!("ANCHOR: {a}")))
                    .count();
                let closes = source
                    .lines()
                    .filter(|l| l.trim_end().ends_with(&format!("ANCHOR_END: {a}")))
                    .count();
                assert_eq!(
                    (opens, closes),
                    (1, 1),
                    "{}: anchor {a:?} in {file}",
                    page.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 6,
        "expected the chapter pages to include code, found {checked} includes"
    );
}

#[test]
fn the_include_parser_sees_anchors() {
    let md = "a {{#include ../x.rs:name}} b {{#include ../y.yaml}} {{#include ../z.snap:4:}}";
    assert_eq!(includes(md), ["../x.rs:name", "../y.yaml", "../z.snap:4:"]);
}

/// Relative Markdown links (`[text](page.md)`, `(../../labs/…)`) must point
/// at files that exist; external links are not followed (no network here).
#[test]
fn relative_links_resolve() {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut checked = 0;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(book_src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    pages.extend(
        [
            "README.md",
            "CONTRIBUTING.md",
            "labs/01-label-selectors/README.md",
        ]
        .map(|p| root.join(p)),
    );
    for page in pages
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(page).unwrap();
        for cap in link.captures_iter(&text) {
            let target = cap[1].split('#').next().unwrap();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let resolved = page.parent().unwrap().join(target);
            assert!(
                resolved.exists(),
                "{}: broken link to {target}",
                page.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "expected links to check, found {checked}");
}
