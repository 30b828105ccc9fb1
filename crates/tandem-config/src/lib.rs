//! # tandem-config: the configuration file
//!
//! One TOML file. Unknown keys are errors (a typo must not be silently
//! ignored); every value is checked at start; errors name the file, the
//! key and the problem; relative paths resolve against the file's folder.

mod admin;
mod call_routing;
mod cluster;
mod dns;
mod error;
mod model;
mod trunks;

pub use admin::*;
pub use call_routing::{
    day_index, is_date, parse_hhmm, Destination, InboundRuleEntry, RingGroupEntry,
};
pub use cluster::{ClusterSection, EtcdSection, FloatingIpSection, RecordRoute};
pub use dns::{DnsSection, ZoneSection};
pub use trunks::{split_host_port, OutboundRuleEntry, SourceNet, TrunkEntry};

pub use error::Error;
pub use model::*;

use std::path::{Path, PathBuf};

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::from_toml(&text, path, &base)
    }

    /// Parses and checks configuration text; `path` is used in messages and
    /// `base` to resolve relative paths.
    pub fn from_toml(text: &str, path: &Path, base: &Path) -> Result<Config, Error> {
        let de = toml::Deserializer::new(text);
        let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            Error::Syntax {
                path: path.to_owned(),
                key: if key == "." { "-".into() } else { key },
                problem: e.into_inner().to_string().trim().replace('\n', " "),
            }
        })?;
        config.source = Some(path.to_owned());
        config.resolve_paths(base);
        config.check(path)?;
        Ok(config)
    }

    /// The configuration used when no file is given.
    pub fn empty() -> Config {
        Config::default()
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if self.storage.path.is_relative() {
            self.storage.path = base.join(&self.storage.path);
        }
        if let Some(tls) = &mut self.tls {
            resolve(&mut tls.certificate);
            resolve(&mut tls.private_key);
        }
        if let Some(admin) = &mut self.admin {
            admin.resolve(base);
        }
    }
}
