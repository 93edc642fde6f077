//! `bare-axum`: the smallest JSON service axum makes, as the ceiling for the policy
//! service's HTTP benchmark (`bench/policy-http`).
//!
//! ```text
//! bare-axum [ADDR]          # or BARE_AXUM_BIND; default 127.0.0.1:3000
//! ```
//!
//! `POST /api/v1/policy/evaluate` reads the body as a `serde_json::Value` (any JSON; 400
//! otherwise) and answers `{"allowed":true}`. No policy, no token, no logging, no metrics,
//! no middleware: what HTTP and JSON alone cost on the machine, on the same tokio runtime
//! (one worker per core) and the same axum and hyper as the policy service. Prints
//! `listening http://ADDR` on stdout once it accepts connections.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Json;
use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

/// Where to listen when neither the argument nor `BARE_AXUM_BIND` says.
const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The whole handler: the body is parsed (axum's `Json` extractor, which also checks the
/// content type), then dropped.
async fn evaluate(Json(request): Json<Value>) -> Json<Value> {
    std::hint::black_box(&request);
    Json(json!({"allowed": true}))
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BARE_AXUM_BIND").ok())
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let addr: SocketAddr = match addr.parse() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("error: {addr:?} is not an address like 127.0.0.1:3000: {err}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let app = Router::new().route("/api/v1/policy/evaluate", post(evaluate));
    match listener.local_addr() {
        Ok(bound) => println!("listening http://{bound}"),
        Err(_) => println!("listening http://{addr}"),
    }
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("error: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
