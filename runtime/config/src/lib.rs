//! # weft-config: MMCV-style run configuration in TOML
//!
//! A weft config is a TOML file with MMCV's key names and merge rules. This crate reads one,
//! resolves its `_base_` chain, applies `--cfg-options`, and gives typed, validated views of
//! it whose errors name the file, line and column they are about. It knows nothing about
//! tensors or plugins, so it builds in seconds and is tested on its own.
//!
//! Types to read first:
//! - [`Config`]: a loaded, merged configuration (a [`Node`] tree plus its [`Sources`]).
//! - [`schema::RunConfig`]: the typed top level, strict about unknown keys.
//! - [`from_node`], [`RawNode`], [`Located`]: typed reads of any subtree, keeping locations.
//! - [`ConfigError`]: one message, a location and an optional hint.
//!
//! ```
//! let dir = std::env::temp_dir().join("weft-config-doc");
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("base.toml"), "optimizer = { type = 'SGD', lr = 0.1 }\n").unwrap();
//! std::fs::write(dir.join("run.toml"), "_base_ = './base.toml'\noptimizer = { lr = 0.02 }\n").unwrap();
//! let mut cfg = weft_config::Config::from_file(&dir.join("run.toml")).unwrap();
//! cfg.apply_options(&["optimizer.momentum=0.9".to_string()]).unwrap();
//! let opt = cfg.get("optimizer").unwrap();
//! assert_eq!(opt.get("type").unwrap().as_str(), Some("SGD"));
//! assert_eq!(opt.get("lr").unwrap().as_f64(), Some(0.02));
//! assert_eq!(opt.get("momentum").unwrap().as_f64(), Some(0.9));
//! ```

mod de;
mod error;
pub mod import;
mod load;
mod merge;
mod options;
mod parse;
mod print;
pub mod python;
pub mod schema;
mod source;
mod value;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use de::{DeError, Located, NodeDeserializer, RawNode, from_node};
pub use error::{ConfigError, ErrorKind, closest, unknown_name_error};
pub use merge::DELETE_KEY;
pub use options::{ConfigOption, parse_option, parse_value};
pub use source::{Location, Origin, SourceFile, SourceId, Sources};
pub use value::{Node, Table, Value, lookup};

/// A loaded configuration: the merged tree and the files it came from.
#[derive(Debug, Clone)]
pub struct Config {
    root: Node,
    sources: Arc<Sources>,
    path: PathBuf,
}

impl Config {
    /// Loads a file and its `_base_` chain.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let mut sources = Sources::default();
        let mut root = load::load_file(path, &mut sources)?;
        merge::strip_delete_keys(&mut root, &sources)?;
        Ok(Config {
            root,
            sources: Arc::new(sources),
            path: path.to_path_buf(),
        })
    }

    /// Applies `--cfg-options` tokens (`key=value`) in order.
    pub fn apply_options(&mut self, args: &[String]) -> Result<(), ConfigError> {
        let options = args
            .iter()
            .map(|a| parse_option(a))
            .collect::<Result<Vec<_>, _>>()?;
        let table = self
            .root
            .as_table_mut()
            .expect("a config root is always a table");
        options::apply_options(table, &options, &self.sources)?;
        merge::strip_delete_keys(&mut self.root, &self.sources)
    }

    /// The path the config was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The merged tree.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The node at a dotted path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.root.get_path(path)
    }

    /// The files behind the config.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// Reads a subtree as `T`, with located errors.
    pub fn read<T: serde::de::DeserializeOwned>(&self, node: &Node) -> Result<T, ConfigError> {
        from_node(node, &self.sources)
    }

    /// An error at the place an origin points to.
    pub fn error_at(
        &self,
        kind: ErrorKind,
        message: impl Into<String>,
        origin: &Origin,
    ) -> ConfigError {
        ConfigError::at(kind, message, origin, &self.sources)
    }

    /// The typed top level.
    pub fn schema(&self) -> Result<schema::RunConfig, ConfigError> {
        let schema = schema::RunConfig::from_config(self)?;
        schema.check_values(self)?;
        Ok(schema)
    }

    /// The merged configuration as TOML text (what `weft print-config` shows).
    pub fn to_toml_string(&self) -> String {
        print::to_toml(&self.root)
    }

    /// The merged configuration as JSON (stored in checkpoints and handed to plugins).
    pub fn to_json(&self) -> serde_json::Value {
        self.root.to_json()
    }
}
