//! Lessons: files that describe a stack, the requests to send through it,
//! what should happen, and what to say at each step.
//!
//! * [`format`]: the TOML format, as serde types.
//! * [`validate`]: reading a file, with `path:line:col` errors and hints,
//!   every one at once, and warnings for likely mistakes.
//! * [`explain`]: serde's and TOML's messages in a lesson's words.
//! * [`runner`]: plays a lesson on the paused clock: its stack once, or,
//!   for a lesson that compares stacks (`[[compare]]`), each variant on a
//!   clock of its own, with the same requests and seed.
//! * [`client`]: the lesson's HTTP client, one connection at a time.
//! * [`jar`]: the client's cookie jars, as a browser keeps them.
//! * [`load`]: many clients at once (`[load]`), open or closed loop.
//! * [`rng`]: the seeded random numbers a load draws from.
//! * [`bundled`]: the lessons shipped inside the binary.
//! * [`schema`]: the format as a JSON Schema, for editors.
//!
//! ```no_run
//! let outcome = roundtrip::scenario::run_named("hello").expect("hello runs");
//! assert_eq!(outcome.trace.requests[0].status, Some(200));
//! ```
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

pub mod bundled;
pub mod client;
pub mod error;
pub mod expect;
pub mod explain;
pub mod format;
pub mod jar;
pub mod load;
pub mod rng;
pub mod runner;
pub mod schema;
pub mod template;
pub mod tls_client;
pub mod validate;
pub mod ws_client;

pub use error::{Problems, ScenarioError};
pub use format::Scenario;
pub use runner::{Outcome, RunError, run};

use std::path::{Path, PathBuf};

/// A lesson ready to run: its name, where it came from, its parsed form.
#[derive(Debug, Clone)]
pub struct Lesson {
    pub name: String,
    pub path: PathBuf,
    pub source: String,
    pub scenario: Scenario,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "no lesson called `{0}`; run `roundtrip list` to see the lessons, or give a path to a .toml file"
    )]
    Unknown(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(#[from] Problems),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Load a bundled lesson by name, or a lesson file by path.
pub fn load(name_or_path: &str) -> Result<Lesson, LoadError> {
    let looks_like_path = name_or_path.ends_with(".toml") || name_or_path.contains('/');
    if !looks_like_path && let Some(source) = bundled::source(name_or_path) {
        let path = PathBuf::from(format!("scenarios/{name_or_path}.toml"));
        let scenario = validate::parse(&path, source)?;
        return Ok(Lesson {
            name: name_or_path.to_string(),
            path,
            source: source.to_string(),
            scenario,
        });
    }
    let path = Path::new(name_or_path);
    if !looks_like_path && !path.exists() {
        return Err(LoadError::Unknown(name_or_path.to_string()));
    }
    load_file(path)
}

/// Load a lesson file.
pub fn load_file(path: &Path) -> Result<Lesson, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let scenario = validate::parse(path, &source)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lesson".into());
    Ok(Lesson {
        name,
        path: path.to_path_buf(),
        source,
        scenario,
    })
}

/// Load and run a lesson by name or path.
pub fn run_named(name_or_path: &str) -> Result<Outcome, LoadError> {
    let lesson = load(name_or_path)?;
    Ok(run(&lesson)?)
}
