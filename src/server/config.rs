//! The web server's settings, named and defaulted as nginx names them
//! (nginx's ngx_http_core_module and ngx_http_proxy_module docs). A scenario may override any of them;
//! the trace records the values in effect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::access::Rule;
use super::brotli::BrotliSettings;
use super::conditional::IfModifiedSince;
use super::gzip::{GzipProxied, GzipSettings};
use super::limit_conn::{LimitConn, LimitConnZone};
use super::limit_req::{LimitReq, LimitReqZone};
use super::location::{Location, default_locations};
use super::tokens::ServerTokens;
use super::upstream::{NextUpstream, UpstreamConfig, default_next_upstream};
use crate::http::{HeadLimits, LineLimit};
use crate::units::{Size, Time};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Longest wait for the client to take more of a response: the time
    /// between two successive writes, not for the whole response
    /// (`send_timeout 60s`; see [`super::send_timeout`]). Written only
    /// when changed.
    #[serde(skip_serializing_if = "is_default_send_timeout")]
    pub send_timeout: Time,
    /// Time to connect to the app server (`proxy_connect_timeout 60s`).
    pub proxy_connect_timeout: Time,
    /// Longest wait between two reads from the app server (`proxy_read_timeout 60s`).
    pub proxy_read_timeout: Time,
    /// Finish a proxied request whose client has gone (`proxy_ignore_client_abort
    /// off`: nginx abandons it, closes the upstream connection and logs 499).
    pub proxy_ignore_client_abort: bool,
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
    /// Send an `ETag` with static files (`etag on`); off, none is sent and
    /// `If-None-Match` never matches.
    pub etag: bool,
    /// How `If-Modified-Since` is compared with a file's time
    /// (`if_modified_since exact`; `before`, or `off` to ignore it).
    pub if_modified_since: IfModifiedSince,
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
    /// Compress with Brotli (`br`) on the way to the client, ahead of gzip
    /// (ngx_brotli's `brotli off`); see [`super::brotli`].
    pub brotli: bool,
    /// Media types to compress with Brotli besides `text/html`, which
    /// always is (`brotli_types text/html`); `*` means any.
    pub brotli_types: Vec<String>,
    /// Shortest `Content-Length` worth Brotli (`brotli_min_length 20`).
    pub brotli_min_length: u64,
    /// Brotli quality, 0 (fastest) to 11 (smallest) (`brotli_comp_level 6`).
    pub brotli_comp_level: u32,
    /// `limit_req_zone`: the buckets `limit_req` keeps, by name (see
    /// [`super::limit_req`]). None by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limit_req_zone: Vec<LimitReqZone>,
    /// `limit_req`, in the server block: every request is judged by each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limit_req: Vec<LimitReq>,
    /// The status a rejected request gets (`limit_req_status 503`; 429 is
    /// the other usual choice). Written only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_req_status: Option<u16>,
    /// `limit_conn_zone`: the per-key counts `limit_conn` keeps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limit_conn_zone: Vec<LimitConnZone>,
    /// `limit_conn ZONE N`, in the server block (see [`super::limit_conn`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limit_conn: Vec<LimitConn>,
    /// The status a refused request gets (`limit_conn_status 503`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_conn_status: Option<u16>,
    /// Also accept TLS connections, as `listen 443 ssl` does (port 443 in
    /// a lesson; `serve --tls`); see [`super::tls`]. The plain port keeps
    /// serving unless `redirect_http` is on. Off by default.
    #[serde(skip_serializing_if = "is_false")]
    pub ssl: bool,
    /// The TLS versions the server accepts (`ssl_protocols TLSv1.2
    /// TLSv1.3`, nginx's default since 1.23.4). rustls speaks only these
    /// two; a client offering nothing newer than TLS 1.1 gets a
    /// `protocol_version` alert.
    #[serde(skip_serializing_if = "is_default_protocols")]
    pub ssl_protocols: Vec<String>,
    /// The names this server answers for (`server_name`; nginx's default
    /// is `""`). A TLS client asking (by SNI) for another name still gets
    /// this server, the only one on the port: nginx's default server.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_name: Vec<String>,
    /// `add_header Strict-Transport-Security "VALUE" always` in the TLS
    /// server: sent on every response over TLS and never over plain HTTP
    /// (RFC 6797 §7.2). Off by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_transport_security: Option<String>,
    /// With `ssl`: the plain port becomes a server of its own that answers
    /// every request with `return 301 https://$host$request_uri`.
    #[serde(skip_serializing_if = "is_false")]
    pub redirect_http: bool,
    /// The HTTP version of proxied requests (`proxy_http_version 1.1`,
    /// nginx ≥ 1.29.7; 1.0 before). An upgrade needs 1.1: under 1.0 the
    /// app server refuses it. Left out of the recorded config while 1.1.
    #[serde(skip_serializing_if = "ProxyHttpVersion::is_default")]
    pub proxy_http_version: ProxyHttpVersion,
    /// `proxy_set_header NAME VALUE;`: fields set on every proxied
    /// request. `$http_NAME` in a value is the client's field of that name
    /// (`_` for `-`); a field whose value comes out empty is not sent, as
    /// nginx does. None by default, so the client's `Upgrade` and
    /// `Connection` (hop-by-hop) never reach the app server until a
    /// lesson writes `{ Upgrade = "$http_upgrade", Connection = "upgrade" }`
    /// (nginx's "WebSocket proxying" page).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_set_header: BTreeMap<String, String>,
    /// The server's `allow` / `deny` rules, in order, for every location
    /// without rules of its own (none: everyone is allowed); see
    /// [`super::access`].
    pub access: Vec<Rule>,
    /// What `Server` and the error pages say about the server
    /// (`server_tokens on`); see [`super::tokens`].
    pub server_tokens: ServerTokens,
    /// `upstream { … }`: several app server instances behind the proxy
    /// (see [`super::upstream`]). None: one app server, as `proxy_pass`
    /// to one address has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamConfig>,
    /// When a failed try is passed to the next server (`proxy_next_upstream
    /// error timeout`). Written only when changed.
    #[serde(skip_serializing_if = "is_default_next_upstream")]
    pub proxy_next_upstream: Vec<NextUpstream>,
    /// Most tries of one request (`proxy_next_upstream_tries 0`: no limit
    /// but the group's size). Written only when set.
    #[serde(skip_serializing_if = "is_zero")]
    pub proxy_next_upstream_tries: u32,
}

fn is_default_next_upstream(n: &[NextUpstream]) -> bool {
    n == default_next_upstream()
}

fn is_default_send_timeout(t: &Time) -> bool {
    *t == Time::secs(60)
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default_protocols(p: &[String]) -> bool {
    p == default_protocols()
}

/// nginx's `ssl_protocols` default.
pub fn default_protocols() -> Vec<String> {
    vec!["TLSv1.2".to_string(), "TLSv1.3".to_string()]
}

/// `proxy_http_version`: `"1.0"` or `"1.1"`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum ProxyHttpVersion {
    #[serde(rename = "1.0")]
    Http10,
    #[default]
    #[serde(rename = "1.1")]
    Http11,
}

impl ProxyHttpVersion {
    fn is_default(&self) -> bool {
        *self == ProxyHttpVersion::Http11
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProxyHttpVersion::Http10 => "1.0",
            ProxyHttpVersion::Http11 => "1.1",
        }
    }
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
            send_timeout: Time::secs(60),
            proxy_connect_timeout: Time::secs(60),
            proxy_read_timeout: Time::secs(60),
            proxy_ignore_client_abort: false,
            lingering_time: Time::secs(30),
            lingering_timeout: Time::secs(5),
            underscores_in_headers: false,
            server_timing: false,
            location: default_locations(),
            etag: true,
            if_modified_since: IfModifiedSince::Exact,
            default_type: "text/plain".to_string(),
            gzip: false,
            gzip_types: vec!["text/html".to_string()],
            gzip_min_length: 20,
            gzip_comp_level: 1,
            gzip_vary: false,
            gzip_proxied: GzipProxied::default(),
            brotli: false,
            brotli_types: vec!["text/html".to_string()],
            brotli_min_length: 20,
            brotli_comp_level: 6,
            limit_req_zone: Vec::new(),
            limit_req: Vec::new(),
            limit_req_status: None,
            limit_conn_zone: Vec::new(),
            limit_conn: Vec::new(),
            limit_conn_status: None,
            ssl: false,
            ssl_protocols: default_protocols(),
            server_name: Vec::new(),
            strict_transport_security: None,
            redirect_http: false,
            proxy_http_version: ProxyHttpVersion::Http11,
            proxy_set_header: BTreeMap::new(),
            access: Vec::new(),
            server_tokens: ServerTokens::On,
            upstream: None,
            proxy_next_upstream: default_next_upstream(),
            proxy_next_upstream_tries: 0,
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

    /// The brotli directives, for the filter.
    pub fn brotli_settings(&self) -> BrotliSettings<'_> {
        BrotliSettings {
            on: self.brotli,
            types: &self.brotli_types,
            min_length: self.brotli_min_length,
            comp_level: self.brotli_comp_level,
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
