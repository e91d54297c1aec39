//! The web server's settings, named and defaulted as nginx names them
//! (nginx's ngx_http_core_module and ngx_http_proxy_module docs). A scenario may override any of them;
//! the trace records the values in effect.

use serde::{Deserialize, Serialize};

use super::access::Rule;
use super::gzip::{GzipProxied, GzipSettings};
use super::location::{Location, default_locations};
use super::tokens::ServerTokens;
use crate::http::{HeadLimits, LineLimit};
use crate::units::{Size, Time};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebServerConfig {
    /// Largest request body (`client_max_body_size 1m`; 0 turns it off).
    pub client_max_body_size: Size,
    /// Size of one large header buffer (`large_client_header_buffers 4 8k`):
    /// a request line or a header line must fit in one buffer, its CRLF
    /// included. A longer request line gets 414, a longer header line 400
    /// "Request Header Or Cookie Too Large".
    pub large_client_header_buffer_size: Size,
    /// How many large header buffers a whole head may use (4).
    pub large_client_header_buffers: usize,
    /// Most header lines in a request (`max_headers 1000`).
    pub max_headers: usize,
    /// Time to receive the whole request head (`client_header_timeout 60s`).
    pub client_header_timeout: Time,
    /// Longest gap between two reads of the body (`client_body_timeout 60s`).
    pub client_body_timeout: Time,
    /// Idle time before a keep-alive connection is closed (`keepalive_timeout 75s`).
    pub keepalive_timeout: Time,
    /// Requests served on one connection before it is closed (`keepalive_requests 1000`).
    pub keepalive_requests: u64,
    /// Time to connect to the app server (`proxy_connect_timeout 60s`).
    pub proxy_connect_timeout: Time,
    /// Longest wait between two reads from the app server (`proxy_read_timeout 60s`).
    pub proxy_read_timeout: Time,
    /// Longest time spent reading (and discarding) what a client still sends
    /// after the server decided to close (`lingering_time 30s`).
    pub lingering_time: Time,
    /// Longest pause in that reading before giving up (`lingering_timeout 5s`).
    pub lingering_timeout: Time,
    /// Headers with `_` in their names are dropped unless this is on
    /// (`underscores_in_headers off`).
    pub underscores_in_headers: bool,
    /// Add `Server-Timing` metrics for the web server and the proxy hop to
    /// each relayed response (W3C Server Timing), so browser DevTools show
    /// the same layers as the trace. nginx has no such directive (it is done
    /// with `add_header` and `$upstream_response_time`); roundtrip's own,
    /// off by default, on with `serve --server-timing`.
    pub server_timing: bool,
    /// The `location` blocks, in the order written: what handles each
    /// request (see [`super::location`]). Default: `/static/` from the
    /// site's files (`root /srv/www`), everything else `proxy_pass`ed to
    /// the app server.
    pub location: Vec<Location>,
    /// The type of a file whose extension `mime.types` does not list
    /// (`default_type text/plain`).
    pub default_type: String,
    /// Compress responses on the way to the client (`gzip off`); see
    /// [`super::gzip`].
    pub gzip: bool,
    /// Media types to compress besides `text/html`, which always is
    /// (`gzip_types text/html`); `*` means any.
    pub gzip_types: Vec<String>,
    /// Shortest `Content-Length` worth compressing (`gzip_min_length 20`);
    /// a response of unknown length always qualifies.
    pub gzip_min_length: u64,
    /// 1 (fastest) to 9 (smallest) (`gzip_comp_level 1`).
    pub gzip_comp_level: u32,
    /// Add `Vary: Accept-Encoding` to every response that could have been
    /// compressed (`gzip_vary off`).
    pub gzip_vary: bool,
    /// Which requests that came through another proxy (they carry `Via`)
    /// may get a compressed response (`gzip_proxied off`). Not about
    /// `proxy_pass`: upstream responses are compressed like any other.
    pub gzip_proxied: GzipProxied,
    /// The server's `allow` / `deny` rules, in order, for every location
    /// without rules of its own (none: everyone is allowed); see
    /// [`super::access`].
    pub access: Vec<Rule>,
    /// What `Server` and the error pages say about the server
    /// (`server_tokens on`); see [`super::tokens`].
    pub server_tokens: ServerTokens,
}

impl Default for WebServerConfig {
    fn default() -> WebServerConfig {
        WebServerConfig {
            client_max_body_size: Size(1024 * 1024),
            large_client_header_buffer_size: Size(8 * 1024),
            large_client_header_buffers: 4,
            max_headers: 1000,
            client_header_timeout: Time::secs(60),
            client_body_timeout: Time::secs(60),
            keepalive_timeout: Time::secs(75),
            keepalive_requests: 1000,
            proxy_connect_timeout: Time::secs(60),
            proxy_read_timeout: Time::secs(60),
            lingering_time: Time::secs(30),
            lingering_timeout: Time::secs(5),
            underscores_in_headers: false,
            server_timing: false,
            location: default_locations(),
            default_type: "text/plain".to_string(),
            gzip: false,
            gzip_types: vec!["text/html".to_string()],
            gzip_min_length: 20,
            gzip_comp_level: 1,
            gzip_vary: false,
            gzip_proxied: GzipProxied::default(),
            access: Vec::new(),
            server_tokens: ServerTokens::On,
        }
    }
}

impl WebServerConfig {
    /// The head limits these settings imply.
    pub fn head_limits(&self) -> HeadLimits {
        let buffer = usize::try_from(self.large_client_header_buffer_size.0).unwrap_or(usize::MAX);
        // The buffer holds the line with its CRLF: with 8k buffers an
        // 8192-byte line (CRLF included) passes and 8193 bytes do not
        // (nginx 1.22.1, measured; ngx_http_alloc_large_header_buffer).
        HeadLimits {
            request_line: Some(LineLimit::with_line_end(buffer)),
            header_line: Some(LineLimit::with_line_end(buffer)),
            max_head_bytes: Some(buffer.saturating_mul(self.large_client_header_buffers.max(1))),
            max_incomplete_head: None,
            max_headers: Some(self.max_headers),
        }
    }

    /// The gzip directives, for the filter.
    pub fn gzip_settings(&self) -> GzipSettings<'_> {
        GzipSettings {
            on: self.gzip,
            types: &self.gzip_types,
            min_length: self.gzip_min_length,
            comp_level: self.gzip_comp_level,
            vary: self.gzip_vary,
            proxied: &self.gzip_proxied,
        }
    }

    /// `large_client_header_buffers` written as nginx writes it.
    pub fn header_buffers_knob(&self) -> String {
        format!(
            "{} {}",
            self.large_client_header_buffers, self.large_client_header_buffer_size
        )
    }
}
