//! The app server's settings, named and defaulted as gunicorn and uvicorn
//! name them (gunicorn's settings reference, uvicorn's settings page).

use serde::{Deserialize, Serialize};

use crate::units::{Size, Time};

/// Which interface the app server uses to call the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    /// PEP 3333, run by a pool of sync workers (gunicorn's default).
    Wsgi,
    /// ASGI 3.0, run on one event loop (uvicorn).
    Asgi,
}

/// Which kind of worker process gunicorn runs (`worker_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkerClass {
    /// One request at a time per worker, closed after each response.
    Sync,
    /// A pool of `threads` threads per worker; a main loop accepts
    /// connections and keeps kept-alive ones (gunicorn `workers/gthread.py`).
    Gthread,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AppServerConfig {
    pub interface: Interface,
    /// WSGI: how many sync workers, each serving one request at a time.
    /// gunicorn's own default is 1 (its docs suggest 2 × cores + 1);
    /// roundtrip's lessons default to 2 so that concurrency shows.
    pub workers: usize,
    /// WSGI: a worker silent for longer than this is given up on (gunicorn
    /// `timeout`, default 30 s; 0 turns it off). Here it bounds how long a
    /// worker waits for a request to arrive.
    pub timeout: Time,
    /// Connections that may wait to be accepted (gunicorn and uvicorn
    /// `backlog`, default 2048).
    pub backlog: usize,
    /// ASGI: how long an idle keep-alive connection stays open
    /// (uvicorn `--timeout-keep-alive`, default 5 s). Sync workers close
    /// after every response, so WSGI ignores it, as gunicorn does.
    pub timeout_keep_alive: Time,
    /// Add a `Server-Timing` metric with the app server's time to each
    /// response (W3C Server Timing; neither gunicorn nor uvicorn does this
    /// itself, apps add it with a middleware). Off by default;
    /// `serve --server-timing` turns it on.
    pub server_timing: bool,
    /// ASGI: take the client's address (and scheme) from `X-Forwarded-For`
    /// (and `X-Forwarded-Proto`) when the peer is trusted (uvicorn
    /// `--proxy-headers`, on by default). The client's port is then unknown,
    /// and uvicorn puts 0. gunicorn has no such rewrite: its `REMOTE_ADDR`
    /// stays the proxy's address.
    pub proxy_headers: bool,
    /// Peers whose `X-Forwarded-*` headers are believed (uvicorn
    /// `--forwarded-allow-ips`, default `127.0.0.1`; gunicorn's
    /// `forwarded_allow_ips` defaults to `127.0.0.1,::1` and governs only
    /// the scheme). Comma-separated addresses, or `*` for any.
    pub forwarded_allow_ips: String,
    /// ASGI: refuse with 503 once this many connections are open or request
    /// tasks are running (uvicorn `--limit-concurrency`, default none: no
    /// limit). The connection being served counts.
    pub limit_concurrency: Option<usize>,
    /// WSGI: a worker serves this many requests, then exits and the arbiter
    /// starts a fresh one (gunicorn `max_requests`, default 0: never). A
    /// cure for slow memory leaks in the app.
    pub max_requests: u64,
    /// WSGI: each worker's limit is `max_requests` plus a number from 0 to
    /// this (gunicorn `max_requests_jitter`, default 0), so that workers
    /// started together do not all restart together.
    pub max_requests_jitter: u64,
    /// WSGI: the kind of worker (gunicorn `worker_class`, default `sync`).
    /// As in gunicorn, `sync` with `threads` over 1 runs `gthread`.
    pub worker_class: WorkerClass,
    /// WSGI, gthread: threads per worker (gunicorn `threads`, default 1).
    pub threads: usize,
    /// WSGI, gthread: most connections one worker holds at once, being
    /// served, queued for a thread or kept alive (gunicorn
    /// `worker_connections`, default 1000). Past it the worker stops
    /// accepting and new connections wait in the backlog.
    pub worker_connections: usize,
    /// WSGI, gthread: how long a kept-alive connection may sit idle
    /// (gunicorn `keepalive`, default 2 s). The sync worker ignores it: it
    /// closes after every response.
    pub keepalive: Time,
    /// WSGI: longest request line, its CRLF not counted (gunicorn
    /// `limit_request_line`, default 4094; at most 8190; 0 for no limit):
    /// longer gets 414 URI Too Long (gunicorn 27 and later, RFC 9112 §3;
    /// gunicorn 26 and older answered 400).
    pub limit_request_line: usize,
    /// WSGI: longest header line (gunicorn `limit_request_field_size`,
    /// default 8190; 0 means the default).
    pub limit_request_field_size: usize,
    /// WSGI: most header fields (gunicorn `limit_request_fields`, default
    /// 100, at most 32768).
    pub limit_request_fields: usize,
    /// ASGI: most bytes h11 buffers of a head that has not ended yet
    /// (uvicorn `--h11-max-incomplete-event-size`, default 16384).
    pub h11_max_incomplete_event_size: usize,
    /// ASGI: threads Starlette's `run_in_threadpool` may use at once
    /// (AnyIO's default thread limiter, 40 tokens; an app changes it
    /// through `anyio.to_thread.current_default_thread_limiter()`).
    pub threadpool: usize,
    /// ASGI: the largest websocket message, in bytes (uvicorn
    /// `--ws-max-size`, 16 MiB); one byte more closes the socket with
    /// 1009. Left out of the recorded config while it has its default.
    #[serde(skip_serializing_if = "is_default_ws_max_size")]
    pub ws_max_size: Size,
}

/// uvicorn's `--ws-max-size` default: 16 MiB.
pub const WS_MAX_SIZE: Size = Size(16 * 1024 * 1024);

fn is_default_ws_max_size(s: &Size) -> bool {
    *s == WS_MAX_SIZE
}

impl Default for AppServerConfig {
    fn default() -> AppServerConfig {
        AppServerConfig {
            interface: Interface::Wsgi,
            workers: 2,
            timeout: Time::secs(30),
            backlog: 2048,
            timeout_keep_alive: Time::secs(5),
            server_timing: false,
            proxy_headers: true,
            forwarded_allow_ips: "127.0.0.1".to_string(),
            limit_concurrency: None,
            max_requests: 0,
            max_requests_jitter: 0,
            worker_class: WorkerClass::Sync,
            threads: 1,
            worker_connections: 1000,
            keepalive: Time::secs(2),
            limit_request_line: 4094,
            limit_request_field_size: 8190,
            limit_request_fields: 100,
            h11_max_incomplete_event_size: 16 * 1024,
            threadpool: super::work::THREADPOOL_SIZE,
            ws_max_size: WS_MAX_SIZE,
        }
    }
}

impl AppServerConfig {
    /// What the stack diagram says about this app server.
    pub fn describe(&self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match self.interface {
            Interface::Wsgi if self.gthread() => format!(
                "WSGI · {} gthread worker{} × {} thread{}",
                self.workers,
                plural(self.workers),
                self.threads,
                plural(self.threads)
            ),
            Interface::Wsgi => format!(
                "WSGI · {} sync worker{}",
                self.workers,
                if self.workers == 1 { "" } else { "s" }
            ),
            Interface::Asgi => "ASGI · 1 event loop".to_string(),
        }
    }

    /// Does this app server run gthread workers? gunicorn's `threads`
    /// doc: "If you try to use the sync worker type and set the threads
    /// setting to more than 1, the gthread worker type will be used
    /// instead."
    pub fn gthread(&self) -> bool {
        self.interface == Interface::Wsgi
            && (self.worker_class == WorkerClass::Gthread || self.threads > 1)
    }
}
