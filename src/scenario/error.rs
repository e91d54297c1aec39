//! Lesson errors that say where and what to do: `path:line:col: message`
//! and a hint, the way a compiler would. A lesson's problems are reported
//! all at once ([`Problems`]), sorted by position, then counted; warnings
//! (`path:line:col: warning: …`) point at likely mistakes that are still
//! valid input and do not fail a check.
//!
//! Book: "Writing a lesson" (book/src/lessons.md, "When check says no").

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub severity: Severity,
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {label}{}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    /// An error at byte `offset` of `source`.
    pub fn at(
        path: &Path,
        source: &str,
        offset: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ScenarioError {
        let (line, col) = line_col(source, offset);
        ScenarioError {
            severity: Severity::Error,
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            hint,
        }
    }
}

/// Whether a problem fails the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The lesson cannot run as written.
    Error,
    /// Valid input that is probably not what the author meant.
    Warning,
}

impl ScenarioError {
    /// The same message as a warning.
    pub fn warning(self) -> ScenarioError {
        ScenarioError {
            severity: Severity::Warning,
            ..self
        }
    }
}

/// Every error found in a lesson file, in the order of their positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<ScenarioError>);

impl Problems {
    /// Sort by position (line, then column), keeping one of each message.
    pub fn sorted(mut list: Vec<ScenarioError>) -> Problems {
        list.sort_by_key(|e| (e.line, e.col, e.severity));
        list.dedup();
        Problems(list)
    }

    /// "1 error", "3 errors".
    pub fn count_line(&self) -> String {
        count(self.0.len(), "error")
    }
}

/// "1 warning", "2 warnings".
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        write!(f, "{}", self.count_line())
    }
}

impl std::error::Error for Problems {}

/// 1-based line and column (in characters) of byte `offset`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 8), (2, 3));
    }
}
