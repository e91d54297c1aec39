//! Little's law and saturation, measured on the real stack.
//!
//! Each test builds a load lesson from a configuration, runs it on the
//! paused clock, and compares the measured throughput with what queueing
//! theory predicts *from that same configuration*: no expected number is
//! typed in by hand.
//!
//! The prediction for a closed loop of C clients, each thinking Z between
//! an answer and its next request, against a server of capacity μ, is the
//! asymptotic bound of operational analysis (Denning and Buzen 1978),
//! which follows from Little's law (L = λ·W, Little 1961) applied to the
//! clients: X = min(μ, C / (S + Z)). The service time S of `GET /notes` is
//! one SQL statement, so S = `db_latency`. The capacity μ is N / S for N
//! sync workers (each holds a request for all of S), and unbounded for the
//! event loop, whose tasks cost no simulated time while they await the
//! database. An open loop below capacity completes what it is offered;
//! above capacity, the excess waits in the app server's listen backlog,
//! and the waits grow at (λ − μ) / μ seconds per second.

use std::time::Duration;

use roundtrip::scenario;
use roundtrip::trace::Trace;
use roundtrip::trace::metrics::{Metrics, queue_waits};

/// How a test stack runs the app.
#[derive(Debug, Clone, Copy)]
enum Server {
    /// gunicorn-like: this many sync workers.
    Wsgi { workers: u64 },
    /// uvicorn-like: one event loop.
    Asgi,
}

/// How a test loads it.
#[derive(Debug, Clone, Copy)]
enum Load {
    Closed { clients: u64, think: Duration },
    Open { rate_per_s: f64 },
}

#[derive(Debug, Clone, Copy)]
struct Config {
    server: Server,
    /// `db_latency`: the service time of `GET /notes`.
    service: Duration,
    load: Load,
    duration: Duration,
    warmup: Duration,
}

impl Config {
    fn toml(&self) -> String {
        let stack = match self.server {
            Server::Wsgi { workers } => format!("interface = \"wsgi\"\nworkers = {workers}\n"),
            Server::Asgi => "interface = \"asgi\"\n".to_string(),
        };
        let load = match self.load {
            Load::Closed { clients, think } => {
                format!("clients = {clients}\nthink = \"{}ms\"\n", think.as_millis())
            }
            Load::Open { rate_per_s } => format!("rate = \"{rate_per_s}/s\"\n"),
        };
        format!(
            "title = \"Little's law test\"\n\
             [stack.app_server]\n{stack}\
             [stack.app]\ndb_latency = \"{}ms\"\n\
             [load]\n{load}duration = \"{}ms\"\nwarmup = \"{}ms\"\n\
             [[load.mix]]\npath = \"/notes\"\n",
            self.service.as_millis(),
            self.duration.as_millis(),
            self.warmup.as_millis(),
        )
    }

    /// Requests per second the server can serve at most (μ).
    fn capacity(&self) -> f64 {
        match self.server {
            Server::Wsgi { workers } => workers as f64 / self.service.as_secs_f64(),
            Server::Asgi => f64::INFINITY,
        }
    }

    /// The throughput queueing theory predicts for this configuration.
    fn predicted_throughput(&self) -> f64 {
        let offered = match self.load {
            Load::Closed { clients, think } => {
                clients as f64 / (self.service + think).as_secs_f64()
            }
            Load::Open { rate_per_s } => rate_per_s,
        };
        offered.min(self.capacity())
    }

    fn run(&self) -> Trace {
        let source = self.toml();
        let path = std::path::Path::new("littles-law-test.toml");
        let scenario =
            scenario::validate::parse(path, &source).unwrap_or_else(|e| panic!("{e}\n{source}"));
        let lesson = scenario::Lesson {
            name: "littles-law-test".into(),
            path: path.to_path_buf(),
            source,
            scenario,
        };
        scenario::run(&lesson)
            .unwrap_or_else(|e| panic!("{self:?}: {e}"))
            .trace
    }
}

fn metrics(trace: &Trace) -> &Metrics {
    trace
        .metrics
        .as_ref()
        .expect("a lesson's trace has metrics")
}

fn closed(server: Server, service_ms: u64, clients: u64, think_ms: u64) -> Config {
    Config {
        server,
        service: Duration::from_millis(service_ms),
        load: Load::Closed {
            clients,
            think: Duration::from_millis(think_ms),
        },
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
    }
}

/// Measured throughput is within 10% of the prediction.
fn assert_throughput_as_predicted(config: Config) {
    let trace = config.run();
    let m = metrics(&trace);
    let measured = m.throughput_per_s.expect("a throughput");
    let predicted = config.predicted_throughput();
    assert!(
        (measured - predicted).abs() <= 0.10 * predicted,
        "{config:?}: measured {measured} requests/s, predicted {predicted}"
    );
    assert_eq!(m.errors, 0, "{config:?}: {:?}", m.responses);
}

#[test]
fn one_sync_worker_serves_one_over_the_service_time() {
    assert_throughput_as_predicted(closed(Server::Wsgi { workers: 1 }, 50, 4, 0));
}

#[test]
fn four_sync_workers_at_100_ms_saturate_at_workers_over_service_time() {
    assert_throughput_as_predicted(closed(Server::Wsgi { workers: 4 }, 100, 16, 0));
}

#[test]
fn eight_sync_workers_at_20_ms_saturate_at_workers_over_service_time() {
    assert_throughput_as_predicted(closed(Server::Wsgi { workers: 8 }, 20, 32, 0));
}

#[test]
fn fewer_clients_than_workers_are_served_at_clients_over_service_time() {
    assert_throughput_as_predicted(closed(Server::Wsgi { workers: 8 }, 100, 4, 0));
}

#[test]
fn thinking_clients_below_capacity_send_clients_over_service_plus_think() {
    assert_throughput_as_predicted(closed(Server::Wsgi { workers: 4 }, 100, 4, 100));
}

#[test]
fn an_event_loop_serves_every_client_at_once_clients_over_service_time() {
    assert_throughput_as_predicted(closed(Server::Asgi, 100, 8, 0));
}

#[test]
fn an_event_loop_with_64_clients_serves_clients_over_service_time() {
    assert_throughput_as_predicted(closed(Server::Asgi, 100, 64, 0));
}

#[test]
fn an_open_loop_below_capacity_completes_what_it_is_offered() {
    let config = Config {
        server: Server::Wsgi { workers: 4 },
        service: Duration::from_millis(100),
        // Half the capacity.
        load: Load::Open { rate_per_s: 20.0 },
        duration: Duration::from_secs(30),
        warmup: Duration::from_secs(1),
    };
    assert!(config.predicted_throughput() < config.capacity());
    assert_throughput_as_predicted(config);
}

#[test]
fn the_measured_figures_obey_littles_law_in_a_steady_closed_loop() {
    // L = X · R, each measured on its own: requests in flight on average,
    // throughput, mean latency.
    for config in [
        closed(Server::Wsgi { workers: 4 }, 100, 16, 0),
        closed(Server::Asgi, 50, 32, 0),
    ] {
        let trace = config.run();
        let m = metrics(&trace);
        let x = m.throughput_per_s.expect("throughput");
        let r = m.latency.expect("latency").mean_ns as f64 / 1e9;
        let l = m.in_flight_mean.expect("requests in flight");
        assert!(
            (l - x * r).abs() <= 0.05 * l,
            "{config:?}: L = {l}, X · R = {x} × {r} = {}",
            x * r
        );
        // And the clients are all in flight all the time (no think time).
        let Load::Closed { clients, .. } = config.load else {
            unreachable!()
        };
        assert!(
            (l - clients as f64).abs() <= 0.05 * clients as f64,
            "L = {l}"
        );
    }
}

#[test]
fn saturated_sync_workers_are_busy_all_the_time() {
    let config = closed(Server::Wsgi { workers: 4 }, 100, 16, 0);
    let trace = config.run();
    let w = metrics(&trace).workers.expect("sync workers");
    assert_eq!(w.workers, 4);
    assert!(w.utilization > 0.99, "{w:?}");
}

/// An open loop offered twice what 4 workers at 100 ms can serve.
fn overloaded() -> Config {
    let base = Config {
        server: Server::Wsgi { workers: 4 },
        service: Duration::from_millis(100),
        load: Load::Open { rate_per_s: 0.0 },
        duration: Duration::from_secs(10),
        warmup: Duration::ZERO,
    };
    Config {
        load: Load::Open {
            rate_per_s: 2.0 * base.capacity(),
        },
        ..base
    }
}

#[test]
fn above_capacity_an_open_loop_completes_only_the_capacity() {
    let config = overloaded();
    let Load::Open { rate_per_s } = config.load else {
        unreachable!()
    };
    assert!(rate_per_s > config.capacity());
    assert_throughput_as_predicted(config);
}

#[test]
fn above_capacity_the_queue_wait_grows_as_saturation_predicts() {
    let config = overloaded();
    let Load::Open { rate_per_s } = config.load else {
        unreachable!()
    };
    let mu = config.capacity();
    let trace = config.run();
    // Each connection's wait, by the time it joined the backlog.
    let waits: Vec<(f64, f64)> = queue_waits(&trace.events)
        .into_iter()
        .map(|(accepted, waited)| ((accepted - waited) as f64 / 1e9, waited as f64 / 1e9))
        .collect();
    let mean = |from: f64, to: f64| {
        let w: Vec<f64> = waits
            .iter()
            .filter(|(at, _)| (from..to).contains(at))
            .map(|(_, w)| *w)
            .collect();
        w.iter().sum::<f64>() / w.len().max(1) as f64
    };
    let end = config.duration.as_secs_f64();
    let (early, late) = (mean(0.0, end / 2.0), mean(end / 2.0, end));
    assert!(late > 2.0 * early, "early {early} s, late {late} s");
    // The queue grows by λ − μ each second and drains at μ: whoever joins
    // it at time t waits about (λ − μ) · t / μ. Compare the mean wait of the
    // second half's arrivals with that line at the half's middle.
    let at = 0.75 * end;
    let predicted = (rate_per_s - mu) * at / mu;
    assert!(
        (late - predicted).abs() <= 0.15 * predicted,
        "late arrivals waited {late} s on average; saturation predicts {predicted} s"
    );
    // Below capacity, nobody waits that long.
    let calm = Config {
        load: Load::Open {
            rate_per_s: 0.5 * mu,
        },
        ..config
    };
    let calm_wait = metrics(&calm.run()).queue_wait.map_or(0, |q| q.mean_ns) as f64 / 1e9;
    let overloaded_wait = metrics(&trace).queue_wait.expect("waits").mean_ns as f64 / 1e9;
    assert!(
        overloaded_wait > 10.0 * calm_wait.max(config.service.as_secs_f64() / 10.0),
        "overloaded {overloaded_wait} s, below capacity {calm_wait} s"
    );
}
