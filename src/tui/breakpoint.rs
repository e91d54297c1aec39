//! Breakpoints: where play stops by itself.
//!
//! A debugger stops at a line; the player stops at a *step*. `--break-on 5xx`
//! stops at the step that *produces* a 5xx response (once per response, not
//! again at every layer that relays it),
//! `--break-on layer:framework` each time the request *arrives* in the
//! framework (not at every step inside it), and `b` toggles the latter for
//! the layer on screen. Stepping by hand never stops: breakpoints only pause
//! play.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Breakpoints".

use std::fmt;
use std::str::FromStr;

use crate::trace::{Event, Layer};

/// One condition that pauses play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakOn {
    /// The step that answers with a 4xx status.
    Status4xx,
    /// The step that answers with a 5xx status.
    Status5xx,
    /// The request arrives in this layer from another one.
    Layer(Layer),
}

impl BreakOn {
    /// Does play stop at `event`, given the step before it (if any)?
    pub fn matches(&self, event: &Event, previous: Option<&Event>) -> bool {
        match self {
            BreakOn::Status4xx => event.answer.is_some_and(|s| (400..500).contains(&s)),
            BreakOn::Status5xx => event.answer.is_some_and(|s| (500..600).contains(&s)),
            BreakOn::Layer(layer) => {
                event.layer == *layer
                    && previous.is_none_or(|p| p.layer != *layer || p.request != event.request)
            }
        }
    }
}

impl FromStr for BreakOn {
    type Err = String;

    /// `4xx`, `5xx` or `layer:NAME`, NAME as in `--break-on layer:web_server`.
    fn from_str(s: &str) -> Result<BreakOn, String> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "4xx" => return Ok(BreakOn::Status4xx),
            "5xx" => return Ok(BreakOn::Status5xx),
            _ => {}
        }
        let layers = Layer::ALL.map(Layer::as_str).join(", ");
        match s.split_once(':') {
            Some((kind, name)) if kind.eq_ignore_ascii_case("layer") => {
                Layer::parse(name).map(BreakOn::Layer).ok_or_else(|| {
                    format!("unknown layer `{name}` in `{s}`; expected one of {layers}")
                })
            }
            _ => Err(format!(
                "unknown breakpoint `{s}`; expected 4xx, 5xx or layer:NAME (NAME one of {layers})"
            )),
        }
    }
}

impl fmt::Display for BreakOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakOn::Status4xx => f.write_str("4xx"),
            BreakOn::Status5xx => f.write_str("5xx"),
            BreakOn::Layer(l) => write!(f, "layer:{}", l.as_str()),
        }
    }
}
