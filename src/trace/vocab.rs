//! The words of the trace: which layer, which way, what kind of step.
//!
//! Every event a layer emits names one [`StepId`] (which knows its
//! [`Layer`]), one [`Direction`] and one [`Kind`]. The string forms (`as_str`) are what travels through `tracing`
//! fields and what the JSON trace contains, so they are part of the format:
//! change them only together with the golden traces.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use serde::{Deserialize, Serialize};

/// The `tracing` target every roundtrip event is emitted under. The recorder
/// ignores events with any other target (a crate's own debug logs, say).
pub const TARGET: &str = "roundtrip";

/// Field names used on spans and events. Layers never write these by hand:
/// they go through [`crate::trace::emit`], so a name cannot be misspelt.
pub mod field {
    /// Span field: the client connection (the web server's id).
    pub const CONN: &str = "conn";
    /// Span field: the request id the web server assigned.
    pub const REQUEST: &str = "request";
    /// Span field: the app server's own id for a connection it accepted.
    pub const APP_CONN: &str = "app_conn";
    /// Span field: the sync worker running the code inside.
    pub const WORKER: &str = "worker";
    /// Span field: the event-loop task running the code inside.
    pub const TASK: &str = "task";
    /// Span field: the app server instance (its name in the `upstream`
    /// block) a process's steps belong to.
    pub const SERVER: &str = "server";
    /// Event field: the step's machine name (for subscribers other than
    /// the recorder; the recorder reads the typed step).
    pub const STEP: &str = "step";
    /// Event field: one line of prose saying what happened.
    pub const SUMMARY: &str = "summary";
}

/// The layers of the stack, top (client) to bottom (database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The HTTP client: the lesson's runner, or curl in `serve` mode.
    Client,
    /// The nginx-like web server: parsing, limits, proxying.
    WebServer,
    /// The gunicorn/uvicorn-like app server and its WSGI or ASGI gateway.
    AppServer,
    /// The framework: middleware onion and router.
    Framework,
    /// The view function the router picked.
    Handler,
    /// SQLite, reached by the handler.
    Database,
}

impl Layer {
    pub const ALL: [Layer; 6] = [
        Layer::Client,
        Layer::WebServer,
        Layer::AppServer,
        Layer::Framework,
        Layer::Handler,
        Layer::Database,
    ];

    /// The machine name, as in JSON and `--break-on layer:NAME`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Client => "client",
            Layer::WebServer => "web_server",
            Layer::AppServer => "app_server",
            Layer::Framework => "framework",
            Layer::Handler => "handler",
            Layer::Database => "database",
        }
    }

    /// The name a person reads (and a screen reader says).
    pub fn label(self) -> &'static str {
        match self {
            Layer::Client => "client",
            Layer::WebServer => "web server",
            Layer::AppServer => "app server",
            Layer::Framework => "framework",
            Layer::Handler => "handler",
            Layer::Database => "database",
        }
    }

    /// How deep the layer sits: 0 for the client, 5 for the database.
    pub fn depth(self) -> usize {
        self as usize
    }

    pub fn parse(name: &str) -> Option<Layer> {
        let name = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Layer::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

/// Every step a layer can take, by name. Each variant knows its layer; its
/// stable name (`as_str`) is what the JSON trace, `--break-on`, narration and
/// golden files use. Consumers match on the variant, never on the name.
///
/// Adding a step: add a row here (layer, name, what it means). Renaming one
/// changes the trace format: do it only together with the golden traces.
macro_rules! steps {
    ($( $(#[$doc:meta])* $variant:ident => ($layer:ident, $name:literal), )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum StepId {
            $( $(#[$doc])* $variant, )*
        }

        impl StepId {
            /// Every step, in vocabulary order.
            pub const ALL: &'static [StepId] = &[$(StepId::$variant),*];

            /// The stable machine name, e.g. `web_server.limit.body`.
            pub fn as_str(self) -> &'static str {
                match self { $(StepId::$variant => $name,)* }
            }

            /// The layer that takes this step.
            pub fn layer(self) -> Layer {
                match self { $(StepId::$variant => Layer::$layer,)* }
            }
        }
    };
}

steps! {
    /// The client opens a TCP connection to the web server.
    ClientConnect => (Client, "client.connect"),
    /// The client's side of a TLS handshake: the certificate it checked
    /// (subject, names, validity against the lesson's clock) and what was
    /// agreed; or why the client refused it (a name the certificate does
    /// not carry, a version the server will not speak).
    ClientTlsHandshake => (Client, "client.tls.handshake"),
    /// The client writes a request's bytes.
    ClientRequestSend => (Client, "client.request.send"),
    /// The client reads a whole response.
    ClientResponseReceive => (Client, "client.response.receive"),
    /// The connection closed before a response arrived.
    ClientResponseNone => (Client, "client.response.none"),
    /// A slow client sends the next piece of its body (`upload_rate`).
    ClientUpload => (Client, "client.upload"),
    /// A slow client sends the next piece of its request, head included
    /// (`head_rate`).
    ClientTrickle => (Client, "client.trickle"),
    /// The server closed a connection the client was keeping idle for
    /// reuse (`idle`): no response, no warning, only a FIN.
    ClientIdleClosed => (Client, "client.idle_closed"),
    /// The client's own timeout ran out before a whole response came: it
    /// gives up and closes the connection (`timeout`).
    ClientTimeout => (Client, "client.timeout"),
    /// The client closes its connection.
    ClientClose => (Client, "client.close"),
    /// The server closed the connection the client meant to use next (it
    /// said `Connection: close`, or closed it idle), so the client opens a
    /// new one for the request, as a real client does; or a reused
    /// connection died without a response and the client sends an
    /// idempotent request again on a new one (RFC 9110 §9.2.2).
    ClientReconnect => (Client, "client.reconnect"),
    /// The client checks the answer to its websocket handshake: a 101
    /// whose `Sec-WebSocket-Accept` is the hash of its key (RFC 6455
    /// §4.1), or any other answer, which fails the connection.
    ClientWebsocketHandshake => (Client, "client.websocket.handshake"),
    /// The client writes one websocket frame (masked, as a client must).
    ClientWebsocketSend => (Client, "client.websocket.send"),
    /// The client reads one websocket frame, or finds the connection
    /// closed under it (1006, no close frame).
    ClientWebsocketReceive => (Client, "client.websocket.receive"),
    /// The client stops reading the response after `stop_reading.after`
    /// bytes (an app sent to the background, a stalled download): what
    /// the server writes now fills the connection's buffers and waits.
    ClientReadStop => (Client, "client.read.stop"),
    /// The connection closed before the whole response arrived: the
    /// client holds a response cut short (curl's "transfer closed with N
    /// bytes remaining to read").
    ClientResponseTruncated => (Client, "client.response.truncated"),

    /// The listen backlog of the web server gained or lost a connection.
    WebServerBacklog => (WebServer, "web_server.backlog"),
    /// The web server's accept queue is full: the kernel drops the
    /// connecting SYN and the client retransmits it later.
    WebServerBacklogFull => (WebServer, "web_server.backlog.full"),
    /// The web server accepts a client connection.
    WebServerAccept => (WebServer, "web_server.accept"),
    /// The ClientHello as received, in the clear (RFC 8446 §4.1.2): the
    /// SNI name, ALPN offers, versions and cipher suites offered; and the
    /// server its name selects (nginx's default server when none matches).
    WebServerTlsClientHello => (WebServer, "web_server.tls.client_hello"),
    /// The TLS handshake done: the version, cipher suite and ALPN protocol
    /// agreed, the certificate sent (subject, issuer, validity), and the
    /// handshake's byte counts.
    WebServerTlsHandshake => (WebServer, "web_server.tls.handshake"),
    /// A TLS handshake refused: the alert sent or received and the knob
    /// behind it (`ssl_protocols`, `ssl_certificate`); or plain HTTP on
    /// the TLS port (nginx's 400, status 497).
    WebServerTlsRefuse => (WebServer, "web_server.tls.refuse"),
    /// No finished handshake within `client_header_timeout`: closed.
    WebServerTlsTimeout => (WebServer, "web_server.tls.handshake_timeout"),
    /// The ciphertext one exchange on a TLS connection cost, in bytes read
    /// and written (the records themselves are never shown).
    WebServerTlsRecords => (WebServer, "web_server.tls.records"),
    /// A request head arrived and parsed.
    WebServerRequestReceive => (WebServer, "web_server.request.receive"),
    /// A request head that breaks a rule or a limit.
    WebServerRequestInvalid => (WebServer, "web_server.request.invalid"),
    /// An absolute-form target: the host comes from it (RFC 9112 §3.2.2).
    WebServerUriAbsolute => (WebServer, "web_server.uri.absolute"),
    /// A path that climbs above the root.
    WebServerUriInvalid => (WebServer, "web_server.uri.invalid"),
    /// The request line's method and target form refused as nginx refuses
    /// them: a form it does not parse (asterisk-form, an authority-form
    /// without CONNECT, CONNECT without one: 400), CONNECT and TRACE (405).
    WebServerRequestLine => (WebServer, "web_server.request_line"),
    /// The Host field (or the absolute-form target's host) validated as
    /// nginx does: refused (400), or lower-cased, trailing dot and port cut.
    WebServerHost => (WebServer, "web_server.host"),
    /// The body's framing is ambiguous or unsupported.
    WebServerFraming => (WebServer, "web_server.framing"),
    /// The body is over `client_max_body_size`.
    WebServerLimitBody => (WebServer, "web_server.limit.body"),
    /// No body bytes within `client_body_timeout`.
    WebServerLimitBodyTimeout => (WebServer, "web_server.limit.body_timeout"),
    /// No whole head within `client_header_timeout`.
    WebServerLimitHeaderTimeout => (WebServer, "web_server.limit.header_timeout"),
    /// The interim `100 Continue`.
    WebServerContinue => (WebServer, "web_server.continue"),
    /// A chunked body decoded.
    WebServerBodyDechunk => (WebServer, "web_server.body.dechunk"),
    /// A badly chunked body.
    WebServerBodyInvalid => (WebServer, "web_server.body.invalid"),
    /// The whole body read, before the proxy hop.
    WebServerBodyReceive => (WebServer, "web_server.body.receive"),
    /// The body of a request the web server answered itself, read and
    /// dropped (`ngx_http_discard_request_body`).
    WebServerBodyDiscard => (WebServer, "web_server.body.discard"),
    /// Header fields with underscores dropped.
    WebServerHeadersUnderscore => (WebServer, "web_server.headers.underscore"),
    /// `keepalive_requests` reached: this request closes the connection.
    WebServerKeepaliveRequests => (WebServer, "web_server.keepalive.requests"),
    /// No next request within `keepalive_timeout`.
    WebServerKeepaliveTimeout => (WebServer, "web_server.keepalive.timeout"),
    /// `limit_req`, one directive: the client's bucket (excess before, time
    /// since its last request, what leaked, excess with this request) and
    /// the verdict: pass, wait (how long), or `limit_req_status`.
    WebServerLimitReq => (WebServer, "web_server.limit_req"),
    /// A request that `limit_req` delayed has waited its time and goes on.
    WebServerLimitReqResume => (WebServer, "web_server.limit_req.resume"),
    /// `limit_conn`: the client's requests in progress against the limit:
    /// counted, or `limit_conn_status`.
    WebServerLimitConn => (WebServer, "web_server.limit_conn"),
    /// The location chosen for the request's normalized URI, with every
    /// candidate and why the winner won.
    WebServerLocation => (WebServer, "web_server.location"),
    /// `try_files`: which of its files exists, or the fallback taken.
    WebServerTryFiles => (WebServer, "web_server.try_files"),
    /// A directory's `index` file found: served by an internal redirect.
    WebServerIndex => (WebServer, "web_server.index"),
    /// An internal redirect: locations are chosen again for a new URI.
    WebServerInternalRedirect => (WebServer, "web_server.internal_redirect"),
    /// A `return` directive answers (or, with 444, closes).
    WebServerReturn => (WebServer, "web_server.return"),
    /// `limit_except`: whether the request's method is one the location
    /// lets through, or its own access rules apply.
    WebServerLimitExcept => (WebServer, "web_server.limit_except"),
    /// `allow`/`deny`: the client's address checked against the rules in
    /// effect; the first that matches decides (403 when it is a `deny`).
    WebServerAccess => (WebServer, "web_server.access"),
    /// A file served by the web server itself.
    WebServerStaticFile => (WebServer, "web_server.static.file"),
    /// A conditional request whose validators still match: 304, no body.
    WebServerNotModified => (WebServer, "web_server.static.not_modified"),
    /// A `Range` request: 206 with the parts, 416, or the whole file.
    WebServerRange => (WebServer, "web_server.static.range"),
    /// The static module refuses or redirects: 301, 403, 404, 405, 412.
    WebServerStaticRefuse => (WebServer, "web_server.static.refuse"),
    /// A new upstream connection to an app server is opened.
    WebServerProxyConnect => (WebServer, "web_server.proxy.connect"),
    /// The request goes to the app server.
    WebServerProxySend => (WebServer, "web_server.proxy.send"),
    /// The app server's response arrives.
    WebServerProxyReceive => (WebServer, "web_server.proxy.receive"),
    /// A reused upstream connection was dead: the request is sent again.
    WebServerProxyRetry => (WebServer, "web_server.proxy.retry"),
    /// The upstream failed: 502 or 504.
    WebServerProxyError => (WebServer, "web_server.proxy.error"),
    /// The upstream group's balancer chooses a server for one try of a
    /// request (`balance`: round_robin, least_conn, ip_hash, hash): every
    /// candidate with its weight, effective and current weight, active
    /// connections, failures and state (eligible, down, failed until when,
    /// at max_conns, already tried, backup), and the one chosen; or none
    /// ("no live upstreams": 502). With `hash` also the inputs `key`,
    /// `crc32`, `ring_points` (consistent) and `walk` (each ring point or
    /// rehash looked at, and why it was passed over).
    WebServerUpstreamChoose => (WebServer, "web_server.upstream.choose"),
    /// A try failed (refused, closed, timed out, or a status that
    /// `proxy_next_upstream` lists): the failure counted against the
    /// server (`max_fails`, `fail_timeout`), and whether the request goes
    /// to the next server (`proxy_next_upstream`, tries left, a
    /// non-idempotent request already sent).
    WebServerUpstreamNext => (WebServer, "web_server.upstream.next"),
    /// An upstream connection is closed (by either end).
    WebServerUpstreamClose => (WebServer, "web_server.upstream.close"),
    /// A request asks to upgrade (`Upgrade: websocket`): whether the
    /// upgrade reaches the app server, by the `proxy_set_header` and
    /// `proxy_http_version` settings (the client's Upgrade and Connection
    /// are hop-by-hop and never pass on their own).
    WebServerUpgrade => (WebServer, "web_server.upgrade"),
    /// After a 101 the proxy is a tunnel: bytes read on one side are
    /// written to the other, unparsed.
    WebServerTunnel => (WebServer, "web_server.tunnel"),
    /// The tunnel ends: one side closed, or nothing crossed it for
    /// `proxy_read_timeout`, and both connections are closed.
    WebServerTunnelClose => (WebServer, "web_server.tunnel.close"),
    /// The gzip filter compressed the response, or says which directive
    /// (gzip_types, gzip_min_length, gzip_proxied, …) kept it as it was;
    /// sizes before and after.
    WebServerGzip => (WebServer, "web_server.gzip"),
    /// The Brotli filter (ngx_brotli, ahead of gzip) compressed the
    /// response with `br`, or says which directive (brotli_types,
    /// brotli_min_length, …) or which Accept-Encoding kept it as it was.
    /// Inputs: `coding` (`br` or `identity`), `q` (the client's q-value
    /// for br), `bytes_before`/`bytes_after` (or `bytes`), `window_bits`
    /// (log2 of the window used), `accept_encoding`, `content_type`.
    WebServerBrotli => (WebServer, "web_server.brotli"),
    /// The response goes to the client.
    WebServerResponseSend => (WebServer, "web_server.response.send"),
    /// The client went away before the response was written (nginx logs 499).
    WebServerClientGone => (WebServer, "web_server.client.gone"),
    /// The client took nothing of the response for `send_timeout`: nginx
    /// logs "client timed out" at info and closes the connection. Inputs:
    /// `bytes_written` and `response_bytes` (what the client's side took,
    /// of the whole response), `body_bytes_sent` and `status` (what the
    /// access log says: the status sent, or 408 if nothing was).
    WebServerSendTimeout => (WebServer, "web_server.send_timeout"),
    /// The client closed the connection.
    WebServerClientClose => (WebServer, "web_server.client.close"),
    /// Lingering close: reads and discards what the client still sends.
    WebServerLingeringClose => (WebServer, "web_server.lingering_close"),
    /// A kept-alive client connection waits for its next request.
    WebServerConnectionIdle => (WebServer, "web_server.connection.idle"),
    /// The web server closes the client connection.
    WebServerConnectionClose => (WebServer, "web_server.connection.close"),

    /// The app server's listen backlog gained or lost a connection.
    AppServerBacklog => (AppServer, "app_server.backlog"),
    /// The app server's accept queue is full: the kernel drops the
    /// connecting SYN and the client retransmits it later.
    AppServerBacklogFull => (AppServer, "app_server.backlog.full"),
    /// An instance of an upstream group stops as the lesson says: its
    /// listening socket closes (connects are refused), its idle
    /// connections close, requests it is running finish.
    AppServerInstanceStop => (AppServer, "app_server.instance.stop"),
    /// A stopped instance starts again: it listens on its address with
    /// fresh workers (or a fresh event loop).
    AppServerInstanceStart => (AppServer, "app_server.instance.start"),
    /// A worker (WSGI) or the event loop (ASGI) accepts a connection.
    AppServerAccept => (AppServer, "app_server.accept"),
    /// A request arrives from the web server.
    AppServerRequestReceive => (AppServer, "app_server.request.receive"),
    /// A request the app server refuses itself (400, 414, 431).
    AppServerRequestRefuse => (AppServer, "app_server.request.refuse"),
    /// No whole request within the app server's patience.
    AppServerRequestTimeout => (AppServer, "app_server.request.timeout"),
    /// uvicorn's proxy headers: the scope's client comes from X-Forwarded-For.
    AppServerProxyHeaders => (AppServer, "app_server.proxy_headers"),
    /// A sync worker takes the request: busy until it is done.
    AppServerWorker => (AppServer, "app_server.worker"),
    /// A sync worker is done and waits in `accept()` again.
    AppServerWorkerIdle => (AppServer, "app_server.worker.idle"),
    /// The arbiter kills a worker silent for longer than `timeout`.
    AppServerWorkerTimeout => (AppServer, "app_server.worker.timeout"),
    /// A worker reached `max_requests` and exits after its response.
    AppServerWorkerRecycle => (AppServer, "app_server.worker.recycle"),
    /// The arbiter starts a worker to replace one that exited.
    AppServerWorkerSpawn => (AppServer, "app_server.worker.spawn"),
    /// A gthread worker's main loop queues a connection for its thread
    /// pool: just accepted, or a kept-alive one that has a request.
    AppServerThreadQueue => (AppServer, "app_server.thread.queue"),
    /// A thread of a gthread worker takes a connection from the queue.
    AppServerThread => (AppServer, "app_server.thread"),
    /// A gthread thread is done with its connection and waits for the next.
    AppServerThreadIdle => (AppServer, "app_server.thread.idle"),
    /// A gthread thread's CPU work needs its worker's GIL: the worker's
    /// threads take turns, one computing at a time.
    AppServerGil => (AppServer, "app_server.gil"),
    /// A gthread worker keeps the connection after the response: its main
    /// loop watches it for the next request, up to `keepalive`.
    AppServerKeepalive => (AppServer, "app_server.keepalive"),
    /// `application(environ, start_response)` is called.
    AppServerWsgiCall => (AppServer, "app_server.wsgi.call"),
    /// The app called `start_response` and returned its body.
    AppServerWsgiStartResponse => (AppServer, "app_server.wsgi.start_response"),
    /// The WSGI app broke the protocol.
    AppServerWsgiError => (AppServer, "app_server.wsgi.error"),
    /// `await app(scope, receive, send)` starts as a task.
    AppServerAsgiCall => (AppServer, "app_server.asgi.call"),
    /// A message the app got from `receive()`.
    AppServerAsgiReceive => (AppServer, "app_server.asgi.receive"),
    /// A message the app passed to `send()`.
    AppServerAsgiSend => (AppServer, "app_server.asgi.send"),
    /// The ASGI app raised or sent no response.
    AppServerAsgiError => (AppServer, "app_server.asgi.error"),
    /// The app raised an exception out to the app server, which logs it
    /// and answers 500 itself (gunicorn's `handle_error`, uvicorn's
    /// `send_500_response`) or, when the response already started,
    /// closes the connection.
    AppServerException => (AppServer, "app_server.exception"),
    /// The websocket handshake as the app server checks it: the request's
    /// fields, the accept key computed, and the answer (101, 403 when the
    /// app closed before accepting, 400, 405, 426 or 505 for a bad handshake).
    AppServerWebsocketHandshake => (AppServer, "app_server.websocket.handshake"),
    /// One websocket frame read from or written to the web server, with
    /// its header fields (FIN, opcode, mask, length form) and payload.
    AppServerWebsocketFrame => (AppServer, "app_server.websocket.frame"),
    /// The app server fails or closes the websocket: a frame that broke
    /// the protocol (1002), a message over `ws_max_size` (1009), a
    /// connection dropped with no close frame (1006 to the app), or the
    /// closing handshake done.
    AppServerWebsocketClose => (AppServer, "app_server.websocket.close"),
    /// An event-loop task changed state: running, awaiting, done.
    AppServerTask => (AppServer, "app_server.task"),
    /// The lifespan protocol: startup before the first request, shutdown
    /// after the last connection (ASGI lifespan spec).
    AppServerLifespan => (AppServer, "app_server.lifespan"),
    /// The server is shutting down: it stops accepting, closes idle
    /// keep-alive connections and lets the ones in use finish.
    AppServerShutdown => (AppServer, "app_server.shutdown"),
    /// A task blocked the event loop: no other task runs until it returns.
    AppServerLoopBlocked => (AppServer, "app_server.loop.blocked"),
    /// The blocking call returned: the loop runs its tasks again.
    AppServerLoopFree => (AppServer, "app_server.loop.free"),
    /// A blocking call is handed to the thread pool (`run_in_threadpool`).
    AppServerThreadpool => (AppServer, "app_server.threadpool"),
    /// `limit_concurrency` reached: the app server answers 503 itself.
    AppServerLimitConcurrency => (AppServer, "app_server.limit_concurrency"),
    /// The response goes back to the web server.
    AppServerResponseSend => (AppServer, "app_server.response.send"),
    /// An idle keep-alive connection timed out.
    AppServerKeepaliveTimeout => (AppServer, "app_server.keepalive.timeout"),
    /// The app server's side of a connection closes.
    AppServerConnectionClose => (AppServer, "app_server.connection.close"),

    /// The request enters a middleware (on the way down).
    FrameworkMiddlewareEnter => (Framework, "framework.middleware.enter"),
    /// The response leaves a middleware (on the way up).
    FrameworkMiddlewareLeave => (Framework, "framework.middleware.leave"),
    /// The request_id middleware picks the request's id.
    FrameworkRequestId => (Framework, "framework.request_id"),
    /// The access_log middleware writes its line.
    FrameworkAccessLog => (Framework, "framework.access_log"),
    /// The json_body middleware parsed the body.
    FrameworkJsonBodyParsed => (Framework, "framework.json_body.parsed"),
    /// The json_body middleware refused the body.
    FrameworkJsonBodyInvalid => (Framework, "framework.json_body.invalid"),
    /// The security_headers middleware added its fields.
    FrameworkSecurityHeaders => (Framework, "framework.security_headers"),
    /// The cache_control middleware chose the response's Cache-Control:
    /// the route's policy, no-store, or none, and the rule that chose it.
    FrameworkCacheControl => (Framework, "framework.cache_control"),
    /// The conditional_get middleware: the ETag computed from the body,
    /// the If-None-Match received, and whether they match (304) or not.
    FrameworkConditionalGet => (Framework, "framework.conditional_get"),
    /// The router's verdict.
    FrameworkRoute => (Framework, "framework.route"),
    /// An exception reached the framework's outermost layer: caught and
    /// answered 500 (Starlette's ServerErrorMiddleware), or let out to the
    /// app server (`exceptions = "propagate"`).
    FrameworkException => (Framework, "framework.exception"),
    /// The authentication middleware attaches an identity to the request:
    /// a user (from a session cookie or a bearer token) or anonymous, with
    /// why credentials that came were not accepted.
    FrameworkAuthenticate => (Framework, "framework.authenticate"),
    /// The authorization middleware decides whether this identity may use
    /// this route: pass, or 401 / 302 to the login page / 403.
    FrameworkAuthorize => (Framework, "framework.authorize"),
    /// The csrf middleware checks an unsafe, cookie-authenticated request
    /// for a matching Origin and token: pass, or 403.
    FrameworkCsrf => (Framework, "framework.csrf"),
    /// The cors middleware answers a CORS preflight (`OPTIONS` with
    /// `Origin` and `Access-Control-Request-Method`) itself: 204 with the
    /// `Access-Control-Allow-*` fields, or 400 naming what it refused.
    FrameworkCorsPreflight => (Framework, "framework.cors.preflight"),
    /// The cors middleware on any other request: no `Origin`, left
    /// untouched; or, on the way up, the `Access-Control-*` fields it added
    /// to the response (an allowed origin) or withheld (any other).
    FrameworkCors => (Framework, "framework.cors"),

    /// The view function is called.
    HandlerCall => (Handler, "handler.call"),
    /// The view function does work that takes time: an awaited wait, CPU
    /// time, a blocking call.
    HandlerWork => (Handler, "handler.work"),
    /// The view function returns its response.
    HandlerReturn => (Handler, "handler.return"),
    /// A fault the lesson asked for strikes this call of the view: it
    /// raises, waits on a slow service, or meets a broken database
    /// (`[[stack.app.fault]]`).
    HandlerFault => (Handler, "handler.fault"),
    /// The view function raises instead of returning: the exception's
    /// class, message and the handler it was raised in.
    HandlerRaise => (Handler, "handler.raise"),
    /// The view checks a password against its stored argon2 hash.
    HandlerPassword => (Handler, "handler.password"),
    /// The view starts or ends a server-side session and sets its cookie.
    HandlerSession => (Handler, "handler.session"),
    /// The sign-in view counts wrong passwords per username: go ahead,
    /// or 429 with `Retry-After`.
    HandlerThrottle => (Handler, "handler.throttle"),
    /// The view signs a bearer token (an HS256 JWT) for a user.
    HandlerToken => (Handler, "handler.token"),
    /// The view checks a permission on one object (its owner, or an
    /// admin), after loading it: 403, or 404 when configured to hide it.
    HandlerPermission => (Handler, "handler.permission"),
    /// The chat room: someone joins, speaks or leaves, and who the
    /// message is broadcast to (everyone connected, with the room's
    /// presence list).
    HandlerChat => (Handler, "handler.chat"),

    /// A statement is sent to SQLite.
    DatabaseQuery => (Database, "database.query"),
    /// SQLite's answer.
    DatabaseResult => (Database, "database.result"),
}

impl StepId {
    /// The step with this machine name.
    pub fn parse(name: &str) -> Option<StepId> {
        StepId::ALL.iter().copied().find(|s| s.as_str() == name)
    }

    /// The known step closest to a misspelt name, for did-you-mean hints.
    pub fn suggest(name: &str) -> Option<StepId> {
        StepId::ALL
            .iter()
            .copied()
            .map(|s| (edit_distance(name, s.as_str()), s))
            .filter(|(d, _)| *d <= name.len().max(4) / 3)
            .min_by_key(|(d, _)| *d)
            .map(|(_, s)| s)
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StepId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StepId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StepId, D::Error> {
        let name = String::deserialize(d)?;
        StepId::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown step `{name}`")))
    }
}

/// Levenshtein distance, for did-you-mean hints (names are short).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Which way the step moves the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Towards the database: the request going in.
    Down,
    /// Towards the client: the response coming back.
    Up,
    /// Work inside one layer.
    Within,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Down => "down",
            Direction::Up => "up",
            Direction::Within => "within",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "down" => Some(Direction::Down),
            "up" => Some(Direction::Up),
            "within" => Some(Direction::Within),
            _ => None,
        }
    }

    /// One symbol, readable without colour.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Down => "↓",
            Direction::Up => "↑",
            Direction::Within => "·",
        }
    }
}

/// What sort of step it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Something crosses from one layer to the next (bytes, environ, a message).
    Hop,
    /// Work inside a layer (parsing, matching, running SQL).
    Step,
    /// The layer chose something: keep-alive or close, which route, to answer early.
    Decision,
    /// Something went wrong: bad input, a limit, a timeout.
    Error,
    /// Only a change of state: a worker went idle, a task started awaiting,
    /// a connection went idle. The event's `state` says what changed.
    State,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hop => "hop",
            Kind::Step => "step",
            Kind::Decision => "decision",
            Kind::Error => "error",
            Kind::State => "state",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "hop" => Some(Kind::Hop),
            "step" => Some(Kind::Step),
            "decision" => Some(Kind::Decision),
            "error" => Some(Kind::Error),
            "state" => Some(Kind::State),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_name_starts_with_its_layer_and_is_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for s in StepId::ALL {
            let (layer, rest) = s.as_str().split_once('.').expect("layer.step");
            assert_eq!(layer, s.layer().as_str(), "{s}");
            assert!(!rest.is_empty(), "{s}");
            assert!(seen.insert(s.as_str()), "{s} named twice");
        }
    }

    #[test]
    fn step_names_parse_back_to_their_step_and_serialize_as_the_name() {
        for &s in StepId::ALL {
            assert_eq!(StepId::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).expect("serializes");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            let back: StepId = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, s);
        }
        assert!(serde_json::from_str::<StepId>("\"web_server.nope\"").is_err());
    }

    #[test]
    fn a_misspelt_step_suggests_the_nearest_and_nonsense_suggests_nothing() {
        assert_eq!(
            StepId::suggest("web_server.limit.bdy"),
            Some(StepId::WebServerLimitBody)
        );
        assert_eq!(
            StepId::suggest("app_server.wsgi.cal"),
            Some(StepId::AppServerWsgiCall)
        );
        assert_eq!(StepId::suggest("completely different"), None);
    }
}
