//! Decisions as data: what a layer weighed, and what it chose.
//!
//! When a layer decides (keep the connection or close it, refuse a body,
//! retry on another connection, pick a worker), the event carries the
//! inputs it measured, the settings that applied, the candidates it could
//! choose from and the verdict, so a view or a test reads the decision
//! rather than a sentence about it. Rate limits, load balancing and
//! authorization add verdicts and candidates, not prose.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use serde::{Deserialize, Serialize};

use super::model::Knob;

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The request goes on.
    Pass,
    /// The request is answered here with this status.
    Refuse { status: u16 },
    /// The request is answered here with this status, and the answer is a
    /// yes (a CORS preflight's 204): nothing inside runs.
    Answer { status: u16 },
    /// Logged with this status, and the connection closed without a response
    /// (nginx's 408 and 444).
    Drop { status: u16 },
    /// The connection stays open for another request.
    KeepOpen,
    /// The connection closes.
    Close,
    /// The request waits this many milliseconds, then goes on (limit_req's
    /// delay).
    Delay { ms: u64 },
    /// The request is sent again.
    Retry,
    /// Something in the request was changed (a header dropped, the host taken
    /// from the target).
    Rewrite,
    /// One of the candidates was chosen (`chosen`).
    Choose,
}

/// One option a decision could pick, with the facts it was judged on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
    pub facts: Vec<(String, String)>,
}

/// A decision, with its inputs and verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The rule applied, in the words of its source (e.g. "RFC 9112 §9.3:
    /// HTTP/1.0 closes unless keep-alive was asked for").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Who it applied to (a client address, a user, a request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What was measured: `("content_length", "2097152")`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<(String, String)>,
    /// Every setting that took part, with its value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knobs: Vec<Knob>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// The candidate chosen, for [`Verdict::Choose`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

impl Decision {
    pub fn new(verdict: Verdict) -> Decision {
        Decision {
            verdict,
            rule: None,
            subject: None,
            inputs: Vec::new(),
            knobs: Vec::new(),
            candidates: Vec::new(),
            chosen: None,
        }
    }

    pub fn rule(mut self, rule: impl Into<String>) -> Decision {
        self.rule = Some(rule.into());
        self
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Decision {
        self.subject = Some(subject.into());
        self
    }

    pub fn input(mut self, name: &str, value: impl ToString) -> Decision {
        self.inputs.push((name.to_string(), value.to_string()));
        self
    }

    pub fn knob(mut self, name: &str, value: impl ToString) -> Decision {
        self.knobs.push(Knob {
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }

    pub fn candidate(mut self, name: impl Into<String>, facts: Vec<(String, String)>) -> Decision {
        self.candidates.push(Candidate {
            name: name.into(),
            facts,
        });
        self
    }

    pub fn chosen(mut self, name: impl Into<String>) -> Decision {
        self.chosen = Some(name.into());
        self
    }
}
