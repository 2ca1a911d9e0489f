//! Helpers of the golden tests: the committed fixtures, scratch output directories, copies to
//! break, and readers for the CSV files and the page's references.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fresh, empty directory for one test's output.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("reports-golden")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a fixture run directory (to break it in a test).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (headers, rows)
}

pub fn cell<'a>(headers: &[String], row: &'a [String], col: &str) -> &'a str {
    let i = headers
        .iter()
        .position(|h| h == col)
        .unwrap_or_else(|| panic!("no column {col}"));
    &row[i]
}

pub fn row<'a>(headers: &[String], rows: &'a [Vec<String>], technique: &str) -> &'a [String] {
    rows.iter()
        .find(|r| cell(headers, r, "technique") == technique)
        .unwrap_or_else(|| panic!("no row for {technique}"))
}

/// The `src="..."` and `href="..."` targets of a page that are not in-page anchors.
pub fn references(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            let target = &rest[..end];
            if !target.starts_with('#') {
                refs.push(target.to_string());
            }
        }
    }
    refs
}

pub fn with_version(name: &str, version: u64) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&fixture("run-full"), &dir);
    let path = dir.join("manifest.json");
    let text = fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "\"format_version\": 1",
        &format!("\"format_version\": {version}"),
    );
    fs::write(&path, text).unwrap();
    dir
}
