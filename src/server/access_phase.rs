//! nginx's access phase for one request: which `allow`/`deny` rules are in
//! effect for the chosen location and method, and what they say about the
//! client's address.
//!
//! ```text
//! location chosen ─▶ its rules, or the server's when it has none
//!                 ─▶ limit_except, method not listed? ─▶ the block's rules
//!                 ─▶ first matching rule: deny ─▶ 403, nothing proxied
//!                                         allow / none ─▶ the handler runs
//! ```
//!
//! The phase runs after the rewrite phase, so a location's `return`
//! answers first and its rules are never looked at (nginx's phases:
//! `NGX_HTTP_REWRITE_PHASE` comes before `NGX_HTTP_ACCESS_PHASE`).
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

use std::net::IpAddr;

use super::WebServer;
use super::access::{Action, Rule, first_match};
use super::location::Location;
use crate::http::RequestHead;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// Check the client against the rules in effect; `Some(403)` when a
/// `deny` matched. Each decision is a step; a location with no rules
/// anywhere records nothing.
pub(super) fn check(
    server: &WebServer,
    request: &RequestHead,
    loc: &Location,
    client: IpAddr,
) -> Option<u16> {
    let (mut rules, mut from): (&[Rule], String) = match loc.access.is_empty() {
        false => (&loc.access, format!("location {}", loc.pattern)),
        true => (&server.config.access, "server".to_string()),
    };
    if let Some(limit) = &loc.limit_except {
        let method = request.method.as_str();
        let through = limit.lets_through(method);
        let own = !limit.access.is_empty();
        let step = Step::new(
            StepId::WebServerLimitExcept,
            Direction::Within,
            Kind::Decision,
        )
        .knob("limit_except", limit.written());
        let decision = Decision::new(if through {
            Verdict::Pass
        } else {
            Verdict::Choose
        })
        .rule("limit_except: the methods listed (GET lets HEAD through) keep the location's rules; any other method gets the block's rules")
        .input("method", method)
        .input("listed", limit.written());
        if through {
            step.summary(format!(
                "{method} is one of limit_except {}: the block does not apply",
                limit.written()
            ))
            .decision(decision.chosen(from.clone()))
            .emit();
        } else {
            if own {
                rules = &limit.access;
                from = format!("limit_except {}", limit.written());
            }
            step.summary(format!(
                "{method} is not one of limit_except {}: {} rules apply",
                limit.written(),
                if own { "the block's" } else { "the location's" }
            ))
            .decision(decision.chosen(from.clone()))
            .emit();
        }
    }
    if rules.is_empty() {
        return None;
    }
    let matched = first_match(rules, client);
    let checked = matched.map_or(rules.len(), |(i, _)| i + 1);
    let mut decision = Decision::new(match matched {
        Some((_, r)) if r.action == Action::Deny => Verdict::Refuse { status: 403 },
        _ => Verdict::Pass,
    })
    .rule("allow/deny: rules are checked in order and the first that matches the client's address decides; none matching allows")
    .input("client", client)
    .input("rules_from", &from);
    for (i, rule) in rules.iter().enumerate().take(checked) {
        let hit = matched.is_some_and(|(m, _)| m == i);
        decision = decision.candidate(
            rule.to_string(),
            vec![
                ("rule".into(), (i + 1).to_string()),
                ("matches".into(), hit.to_string()),
            ],
        );
    }
    let step = Step::new(StepId::WebServerAccess, Direction::Within, Kind::Decision);
    match matched {
        Some((i, rule)) => {
            let (directive, who) = rule.directive();
            let decision = decision.chosen(rule.to_string());
            let step = step.knob(directive, who);
            if rule.action == Action::Deny {
                step.summary(format!(
                    "client {client} matches `{rule}` (rule {} of the {from} rules): answers \
                     403 Forbidden; nothing is passed on",
                    i + 1
                ))
                .decision(decision)
                .answer(403)
                .emit();
                return Some(403);
            }
            step.summary(format!(
                "client {client} matches `{rule}` (rule {} of the {from} rules): goes on",
                i + 1
            ))
            .decision(decision)
            .emit();
        }
        None => {
            step.summary(format!(
                "client {client} matches none of the {} {from} rules: allowed, goes on",
                rules.len()
            ))
            .decision(decision)
            .emit();
        }
    }
    None
}
