//! The torture-test golden files under `testdata/` and their expected
//! outcomes from `testdata/expected.toml`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The expected outcome of one golden file.
#[derive(Debug, Clone, Deserialize)]
pub struct Expectation {
    /// Path relative to `testdata/`.
    pub file: String,
    /// The RFC section.
    pub section: String,
    /// `valid` or `invalid`.
    pub outcome: String,
    /// `request` or `response`.
    pub kind: String,
    /// The status an element answers an invalid request with.
    pub status: Option<u16>,
    /// Other statuses the RFC accepts.
    #[serde(default)]
    pub alt_status: Vec<u16>,
}

/// One golden message.
#[derive(Debug, Clone)]
pub struct Golden {
    /// `rfc4475.wsinv` and so on.
    pub name: String,
    /// The message bytes.
    pub bytes: Vec<u8>,
    /// What the RFC expects.
    pub expect: Expectation,
}

impl Golden {
    /// Whether the RFC calls the message valid.
    pub fn is_valid(&self) -> bool {
        self.expect.outcome == "valid"
    }

    /// Whether the message is a response.
    pub fn is_response(&self) -> bool {
        self.expect.kind == "response"
    }
}

/// The workspace's `testdata/` directory.
pub fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Every golden message, in name order.
pub fn all() -> Vec<Golden> {
    let dir = testdata_dir();
    let text = std::fs::read_to_string(dir.join("expected.toml")).expect("read expected.toml");
    let tables: BTreeMap<String, BTreeMap<String, Expectation>> =
        toml::from_str(&text).expect("parse expected.toml");
    let mut out = Vec::new();
    for (rfc, entries) in tables {
        for (name, expect) in entries {
            let bytes = std::fs::read(dir.join(&expect.file))
                .unwrap_or_else(|e| panic!("read {}: {e}", expect.file));
            out.push(Golden {
                name: format!("{rfc}.{name}"),
                bytes,
                expect,
            });
        }
    }
    out
}
