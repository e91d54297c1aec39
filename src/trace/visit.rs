//! Reading a `tracing` span's or event's fields back into typed values.
//!
//! `tracing` hands fields to a visitor one at a time; only `record_debug` is
//! required, the typed methods keep integers as integers and text as text.

use std::fmt;

use tracing::field::{Field, Visit};

use super::vocab::field;

/// The fields of one roundtrip event (or span), as recorded.
#[derive(Debug, Default)]
pub struct Fields {
    pub conn: Option<u64>,
    pub request: Option<u64>,
    pub app_conn: Option<u64>,
    pub worker: Option<u64>,
    pub task: Option<u64>,
    pub server: Option<String>,
    pub summary: String,
}

impl Visit for Fields {
    fn record_str(&mut self, f: &Field, value: &str) {
        match f.name() {
            field::SUMMARY => self.summary = value.to_string(),
            field::SERVER => self.server = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_u64(&mut self, f: &Field, value: u64) {
        match f.name() {
            field::CONN => self.conn = Some(value),
            field::REQUEST => self.request = Some(value),
            field::APP_CONN => self.app_conn = Some(value),
            field::WORKER => self.worker = Some(value),
            field::TASK => self.task = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, f: &Field, value: i64) {
        if let Ok(v) = u64::try_from(value) {
            self.record_u64(f, v);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}
