//! Reading a `tracing` event's fields back into typed values.
//!
//! `tracing` hands fields to a visitor one at a time; only `record_debug` is
//! required, the typed methods keep integers as integers.

use std::fmt;

use tracing::field::{Field, Visit};

use super::vocab::field;

/// The fields of one roundtrip event (or span), as recorded.
#[derive(Debug, Default)]
pub struct Fields {
    pub layer: Option<String>,
    pub step: Option<String>,
    pub direction: Option<String>,
    pub kind: Option<String>,
    pub knob: Option<String>,
    pub knob_value: Option<String>,
    pub answer: Option<u64>,
    pub conn: Option<u64>,
    pub request: Option<u64>,
    pub ordinal: Option<u64>,
    pub message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, f: &Field, value: &str) {
        let slot = match f.name() {
            field::LAYER => &mut self.layer,
            field::STEP => &mut self.step,
            field::DIRECTION => &mut self.direction,
            field::KIND => &mut self.kind,
            field::KNOB => &mut self.knob,
            field::KNOB_VALUE => &mut self.knob_value,
            field::MESSAGE => {
                self.message = value.to_string();
                return;
            }
            _ => return,
        };
        *slot = Some(value.to_string());
    }

    fn record_u64(&mut self, f: &Field, value: u64) {
        match f.name() {
            field::ANSWER => self.answer = Some(value),
            field::CONN => self.conn = Some(value),
            field::REQUEST => self.request = Some(value),
            field::ORDINAL => self.ordinal = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, f: &Field, value: i64) {
        if let Ok(v) = u64::try_from(value) {
            self.record_u64(f, v);
        }
    }

    fn record_debug(&mut self, f: &Field, value: &dyn fmt::Debug) {
        if f.name() == field::MESSAGE {
            // `format_args!` debug-prints as its formatted text, without quotes.
            self.message = format!("{value:?}");
        }
    }
}
