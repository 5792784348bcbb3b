//! What `/metrics` reports, in the Prometheus text format (every family with `# HELP` and
//! `# TYPE`): requests per route, method and status, their latency as a histogram, the
//! bytes the node accepted per kind of thing it stores, what rationing, quotas and the
//! storage budget refused, and the store's counts.
//!
//! Routes are the router's path templates (`/v1/objects/{addr}`), never the request's
//! path, so a client cannot grow the label set; an unknown route counts as `other`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    /// Observations at most `BUCKETS[i]` (non-cumulative; summed when printed).
    buckets: [u64; BUCKETS.len()],
}

/// The node's request counters (one lock per request; the work behind a request is a
/// store call, which costs far more).
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, String, u16), Series>>,
    accepted: Mutex<BTreeMap<&'static str, u64>>,
    /// Writes a handler or the storage budget refused: (over a b0x's quota, over the
    /// storage budget).
    refused: Mutex<(u64, u64)>,
}

/// The kind of thing a successful write to `route` stores, for the byte counters.
fn kind(route: &str) -> Option<&'static str> {
    match route {
        "/v1/objects/{addr}" => Some("object"),
        "/v1/lists/{topic}/{key}" => Some("list_entry"),
        "/v1/owned/{owner}/{key}" => Some("owned_slot"),
        "/v1/b0x/{recipient}" => Some("b0x_item"),
        "/v1/evidence/{device}" => Some("evidence"),
        _ => None,
    }
}

/// The routes the router serves, as labels (anything else is `other`).
const ROUTES: [&str; 12] = [
    "/health",
    "/metrics",
    "/v1/objects/{addr}",
    "/v1/lists/{topic}/{key}",
    "/v1/owned/{owner}/{key}",
    "/v1/b0x/{recipient}",
    "/v1/b0x-list",
    "/v1/b0x-ack",
    "/v1/evidence",
    "/v1/evidence/{device}",
    "/v1/entropy/{ceremony}",
    "/v1/entropy/{ceremony}/{contributor}",
];

impl Metrics {
    /// Records one answered request: its route template (`None`: no route matched), method,
    /// status, time taken, and its body's length (counted as stored when a write answers
    /// 201).
    pub fn observe(
        &self,
        route: Option<&str>,
        method: &str,
        status: u16,
        took: Duration,
        body_len: Option<u64>,
    ) {
        let route = route
            .and_then(|r| ROUTES.iter().find(|x| **x == r).copied())
            .unwrap_or("other");
        // Methods are a closed set too: anything unusual is `other`.
        let method = match method {
            "GET" | "PUT" | "POST" | "DELETE" | "HEAD" => method.to_string(),
            _ => "other".to_string(),
        };
        let secs = took.as_secs_f64();
        // 429 past rationing is a b0x quota (rationing answers before any route); 507 is
        // the storage budget.
        if status == 429 || status == 507 {
            let mut r = self.refused.lock().unwrap_or_else(|e| e.into_inner());
            if status == 429 {
                r.0 += 1;
            } else {
                r.1 += 1;
            }
        }
        {
            let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            let s = m.entry((route, method.clone(), status)).or_default();
            s.count += 1;
            s.sum += secs;
            if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
                s.buckets[i] += 1;
            }
        }
        if let (Some(k), Some(n), true, true) = (
            kind(route),
            body_len,
            status == 201,
            method == "PUT" || method == "POST",
        ) {
            *self
                .accepted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(k)
                .or_default() += n;
        }
    }

    /// The text of `/metrics`, with the store's counts (objects, slots, b0x items,
    /// evidence) appended as gauges.
    /// `rationed` is what rationing refused: (over the request rate, over the byte budget).
    pub fn render(&self, counts: (u64, u64, u64, u64), rationed: (u64, u64)) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP dsm_node_http_requests_total HTTP requests answered, by route template, method and status.\n# TYPE dsm_node_http_requests_total counter\n");
        for ((route, method, status), s) in requests.iter() {
            let _ = writeln!(
                out,
                "dsm_node_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP dsm_node_http_request_duration_seconds Time from a request's arrival to its answer, by route template, method and status.\n# TYPE dsm_node_http_request_duration_seconds histogram\n");
        for ((route, method, status), s) in requests.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "dsm_node_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "dsm_node_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\ndsm_node_http_request_duration_seconds_sum{{{labels}}} {}\ndsm_node_http_request_duration_seconds_count{{{labels}}} {}",
                s.count, s.sum, s.count
            );
        }
        drop(requests);
        out.push_str("# HELP dsm_node_accepted_bytes_total Request body bytes of writes that stored something new (201), by kind of thing stored, since the process started.\n# TYPE dsm_node_accepted_bytes_total counter\n");
        let accepted = self.accepted.lock().unwrap_or_else(|e| e.into_inner());
        for k in ["object", "list_entry", "owned_slot", "b0x_item", "evidence"] {
            let _ = writeln!(
                out,
                "dsm_node_accepted_bytes_total{{kind=\"{k}\"}} {}",
                accepted.get(k).copied().unwrap_or(0)
            );
        }
        out.push_str("# HELP dsm_node_rationed_total Requests refused (429) before their body was read, by reason: over the client's request rate, or over a write-byte budget (the client's, or an owned write's slot owner's).\n# TYPE dsm_node_rationed_total counter\n");
        let _ = writeln!(
            out,
            "dsm_node_rationed_total{{reason=\"rate\"}} {}\ndsm_node_rationed_total{{reason=\"bytes\"}} {}",
            rationed.0, rationed.1
        );
        let refused = *self.refused.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP dsm_node_refused_writes_total Writes refused after rationing let them in, by reason: a b0x at its item quota for this client (429), or the store past its storage budget (507).\n# TYPE dsm_node_refused_writes_total counter\n");
        let _ = writeln!(
            out,
            "dsm_node_refused_writes_total{{reason=\"b0x_quota\"}} {}\ndsm_node_refused_writes_total{{reason=\"storage_budget\"}} {}",
            refused.0, refused.1
        );
        let (objects, slots, b0x, evidence) = counts;
        for (name, help, v) in [
            ("dsm_node_objects", "Objects stored.", objects),
            (
                "dsm_node_slots",
                "Owned slots written and candidate-list entries appended.",
                slots,
            ),
            (
                "dsm_node_b0x_items",
                "b0x items waiting, all recipients.",
                b0x,
            ),
            ("dsm_node_evidence", "Equivocation proofs kept.", evidence),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

/// The store's size and its budget, as gauges (what `--max-store-mib` is measured against).
pub fn store_bytes(stored: u64, budget: u64) -> String {
    format!(
        "# HELP dsm_node_store_bytes The store's size on disk (PostgreSQL: the database's), as the storage budget measures it.\n\
         # TYPE dsm_node_store_bytes gauge\ndsm_node_store_bytes {stored}\n\
         # HELP dsm_node_store_budget_bytes The storage budget (--max-store-mib); 0: none.\n\
         # TYPE dsm_node_store_budget_bytes gauge\ndsm_node_store_budget_bytes {budget}\n"
    )
}
