//! `warden-load`: drives a running executor with valid, signed requests and fresh decision
//! tokens, and reports audited actions per second and latency percentiles.
//!
//! ```text
//! warden-load --url http://127.0.0.1:4000 --key decision-key.pem \
//!     [--requests 20000] [--concurrency 32] [--warmup 500] \
//!     [--namespace load] [--deployment api]
//! ```
//!
//! The HMAC secret comes from `JWT_SECRET` (never from the command line, which other users
//! of the machine can read). Every request is a `scale_deployment` of the same deployment
//! with its own decision id, minted with the policy service's signing code and the key the
//! policy service serves in its JWKS, so the executor verifies each one exactly as in
//! production. Requests are built before the clock starts: the figures are the executor's,
//! not the driver's. `bench/executor-load` starts everything this needs.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use executor_service::signature::{SignatureForm, SignedPayload, sign};
use policy_service::keys::DecisionSigner;
use serde_json::{Value, json};
use warden_test_support::claims::ClaimsBuilder;

/// Drives a running executor with valid signed requests and fresh decision tokens, and
/// reports audited actions per second and latency percentiles.
///
/// It takes no subcommands. The executor's HMAC secret comes from JWT_SECRET, never from
/// the command line; `bench/executor-load` starts everything it needs (see BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(name = "warden-load", version)]
struct Args {
    /// The executor's base URL, e.g. http://127.0.0.1:4000.
    #[arg(long)]
    url: String,
    /// The policy service's decision signing key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    key: std::path::PathBuf,
    /// Measured requests.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    requests: usize,
    /// Keep-alive connections sending at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    concurrency: usize,
    /// Requests sent before the clock starts.
    #[arg(long, value_name = "N", default_value_t = 500)]
    warmup: usize,
    /// The target deployment's namespace.
    #[arg(long, value_name = "NS", default_value = "load")]
    namespace: String,
    /// The target deployment.
    #[arg(long, value_name = "NAME", default_value = "api")]
    deployment: String,
}

/// Builds `count` signed execute bodies, each with its own decision.
fn build_bodies(
    args: &Args,
    signer: &DecisionSigner,
    secret: &[u8],
    count: usize,
) -> Result<Vec<String>, String> {
    let now = chrono::Utc::now().timestamp();
    let resource = format!("{}/deployment/{}", args.namespace, args.deployment);
    (0..count)
        .map(|i| {
            let claims = ClaimsBuilder::new()
                .action("scale_deployment")
                .resource(resource.clone())
                .policy_version("sha256:load")
                .rule("allow-ai-remediation")
                .issued_at(now)
                // Long enough for the whole run; the executor checks expiry on each request.
                .valid_for(600)
                .build();
            let token = signer.sign(&claims).map_err(|e| e.to_string())?;
            let unsigned = json!({
                "actionType": "scale_deployment",
                "actionParams": {
                    "namespace": args.namespace,
                    "deploymentName": args.deployment,
                    // Alternate so every action really changes the deployment.
                    "replicas": 2 + (i % 2),
                },
                "requestedBy": "ai-engine",
                "policyDecision": {
                    "allowed": true,
                    "decision": "allow",
                    "reason": "load test",
                    "matchedRule": claims.rule,
                    "decisionId": claims.jti,
                    "policyVersion": claims.pv,
                    "token": token,
                },
            });
            let text = unsigned.to_string();
            let payload = SignedPayload::from_body(text.as_bytes()).map_err(|e| e.to_string())?;
            let mut body: Value = unsigned;
            body["signature"] = json!(sign(&payload, SignatureForm::JsInsertion, secret));
            Ok(body.to_string())
        })
        .collect()
}

/// What one phase measured.
struct Outcome {
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Count per HTTP status (0: transport error).
    statuses: std::collections::BTreeMap<u16, usize>,
}

/// Sends `bodies` over `concurrency` keep-alive connections as fast as they are answered.
async fn run(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<String>,
    concurrency: usize,
) -> Outcome {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, bodies, next, url) =
            (client.clone(), bodies.clone(), next.clone(), url.to_owned());
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let request = if body.is_empty() {
                    client.get(&url)
                } else {
                    client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                };
                let status = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        // Read the body so the connection goes back to the pool.
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => 0,
                };
                seen.push((sent.elapsed(), status));
            }
            seen
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for worker in workers {
        for (latency, status) in worker.await.unwrap_or_default() {
            latencies.push(latency);
            *statuses.entry(status).or_insert(0) += 1;
        }
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Outcome {
        elapsed,
        latencies,
        statuses,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints one phase's figures.
fn report(name: &str, outcome: &Outcome, concurrency: usize) {
    let ok = outcome.statuses.get(&200).copied().unwrap_or(0);
    println!("{name}:");
    println!(
        "  requests:   {} over {concurrency} connections",
        outcome.latencies.len()
    );
    println!("  statuses:   {:?}", outcome.statuses);
    println!("  elapsed:    {:.2} s", outcome.elapsed.as_secs_f64());
    println!(
        "  per second: {:.0} (status 200 only)",
        ok as f64 / outcome.elapsed.as_secs_f64()
    );
    println!(
        "  latency:    p50 {}  p90 {}  p99 {}  max {}",
        ms(percentile(&outcome.latencies, 50.0)),
        ms(percentile(&outcome.latencies, 90.0)),
        ms(percentile(&outcome.latencies, 99.0)),
        ms(percentile(&outcome.latencies, 100.0)),
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    // Zero connections would send nothing and report nothing.
    args.concurrency = args.concurrency.max(1);
    let Some(secret) = std::env::var_os("JWT_SECRET").filter(|s| !s.is_empty()) else {
        eprintln!(
            "error: JWT_SECRET must hold the executor's HMAC secret\n\n\
             For more information, try '--help'."
        );
        return ExitCode::from(2);
    };
    let secret = secret.as_encoded_bytes().to_vec();
    let signer = match DecisionSigner::from_files(&args.key, &[]) {
        Ok(signer) => signer,
        Err(err) => {
            eprintln!("error: {}: {err}", args.key.display());
            return ExitCode::from(2);
        }
    };
    let url = format!("{}/executor/execute", args.url.trim_end_matches('/'));
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            eprintln!("error: HTTP client: {err}");
            return ExitCode::FAILURE;
        }
    };

    let built = Instant::now();
    let (warmup, measured) = match (
        build_bodies(&args, &signer, &secret, args.warmup),
        build_bodies(&args, &signer, &secret, args.requests),
    ) {
        (Ok(w), Ok(m)) => (w, m),
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("error: building requests: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "built {} requests in {:.1} s",
        warmup.len() + measured.len(),
        built.elapsed().as_secs_f64()
    );

    if !warmup.is_empty() {
        let outcome = run(&client, &url, warmup, args.concurrency).await;
        eprintln!("warm-up: {:?}", outcome.statuses);
    }
    let outcome = run(&client, &url, measured, args.concurrency).await;

    let ok = outcome.statuses.get(&200).copied().unwrap_or(0);
    let total = outcome.latencies.len();
    report("execute", &outcome, args.concurrency);

    // Baseline in the same run: the executor's /healthz over the same connections, i.e.
    // what HTTP alone costs on this machine with these processes running.
    let healthz = format!("{}/healthz", args.url.trim_end_matches('/'));
    let baseline = run(
        &client,
        &healthz,
        vec![String::new(); args.requests],
        args.concurrency,
    )
    .await;
    report("baseline GET /healthz", &baseline, args.concurrency);
    if ok == total {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: {} of {total} requests did not succeed", total - ok);
        ExitCode::FAILURE
    }
}
