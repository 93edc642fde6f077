//! The reference clients and the checks against what they print.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use executor_service::signature::{SignatureForm, SignedPayload, sign};
use proptest::test_runner::TestCaseError;
use serde::Deserialize;

/// The secret every reference client signs with.
pub const SECRET: &str = "reference-client-secret-0123456789";

/// A `restart_pod` request as a Python client sends it (`json.dumps` default form).
pub const EXAMPLE: &str = r#"{"actionType": "restart_pod", "actionParams": {"namespace": "default", "podName": "api-pod-12345"}, "requestedBy": "ai-engine", "policyDecision": {"allowed": true, "reason": "ok", "decision": "allow", "token": "a.b.c"}, "signature": "00"}"#;

/// A request body around `params`, in the clients' usual member order.
pub fn request(params: &str) -> String {
    format!(
        r#"{{"actionType": "restart_pod", "actionParams": {params}, "requestedBy": "ai-engine", "policyDecision": {{"allowed": true}}, "signature": "00"}}"#
    )
}

/// One form as a reference client printed and signed it.
#[derive(Debug, Clone)]
pub struct Reference {
    pub form: SignatureForm,
    pub text: String,
    pub hmac: String,
}

/// What the Python and the JS client print for one request.
#[derive(Debug, Clone)]
pub struct Clients {
    /// `json.dumps(request)`: the body a Python client sends.
    pub python_body: String,
    /// `JSON.stringify(JSON.parse(python_body))`: the body a JS client sends.
    pub js_body: String,
    /// The four forms, in [`SignatureForm::ALL`] order.
    pub forms: Vec<Reference>,
}

impl Clients {
    pub fn form(&self, form: SignatureForm) -> &Reference {
        self.forms.iter().find(|r| r.form == form).unwrap()
    }
}

/// The body sent by the client that uses `form`.
pub fn client_body(clients: &Clients, form: SignatureForm) -> &str {
    if form.is_python() {
        &clients.python_body
    } else {
        &clients.js_body
    }
}

pub fn payload(body: &str) -> SignedPayload {
    SignedPayload::from_body(body.as_bytes()).unwrap_or_else(|err| panic!("{body}: {err}"))
}

/// Runs the Python client over `bodies`, then the JS client over the bodies Python
/// printed (so that both hold the same request), each interpreter once.
pub fn reference_clients(bodies: &[&str]) -> Vec<Clients> {
    let python = run_reference("python3", "signature_forms.py", bodies);
    let python_bodies: Vec<&str> = python.iter().map(|o| o.body.as_str()).collect();
    let js = run_reference("node", "signature_forms.js", &python_bodies);
    assert_eq!(python.len(), bodies.len());
    assert_eq!(js.len(), bodies.len());
    python
        .into_iter()
        .zip(js)
        .map(|(py, js)| {
            let mut forms = Vec::with_capacity(4);
            for output in [&py, &js] {
                for (name, printed) in &output.forms {
                    let form = SignatureForm::ALL.into_iter().find(|f| f.as_str() == name);
                    let form = form.unwrap_or_else(|| panic!("unknown form {name}"));
                    forms.push(Reference {
                        form,
                        text: printed.text.clone(),
                        hmac: printed.hmac.clone(),
                    });
                }
            }
            forms.sort_by_key(|r| SignatureForm::ALL.iter().position(|f| *f == r.form));
            Clients {
                python_body: py.body,
                js_body: js.body,
                forms,
            }
        })
        .collect()
}

/// Every form renders the reference text from its own client's body and verifies the
/// reference HMAC.
pub fn assert_all_forms_verify(clients: &Clients) {
    assert_eq!(clients.forms.len(), 4, "{clients:#?}");
    for reference in &clients.forms {
        check_reference(client_body(clients, reference.form), reference)
            .unwrap_or_else(|err| panic!("{err}\n{clients:#?}"));
    }
}

/// The JS forms also come out of `body` (another serialiser's body of the same request).
pub fn assert_js_forms_verify_against(body: &str, clients: &Clients) {
    for reference in clients.forms.iter().filter(|r| !r.form.is_python()) {
        check_reference(body, reference).unwrap_or_else(|err| panic!("{err}"));
    }
}

/// Our rendering of `body` in the reference's form is its text; our signature is its
/// HMAC; and `verify` accepts its HMAC (naming this form or an earlier one with the same
/// text).
pub fn check_reference(body: &str, reference: &Reference) -> Result<(), TestCaseError> {
    let form = reference.form;
    let payload = SignedPayload::from_body(body.as_bytes())
        .map_err(|err| TestCaseError::fail(format!("{form:?}: {err}\nbody: {body}")))?;
    let ours = payload.render(form);
    if ours != reference.text {
        return Err(TestCaseError::fail(format!(
            "{form:?} text differs\nbody:      {body}\nreference: {}\nours:      {ours}",
            reference.text
        )));
    }
    if sign(&payload, form, SECRET.as_bytes()) != reference.hmac {
        return Err(TestCaseError::fail(format!(
            "{form:?}: our HMAC differs for {body}"
        )));
    }
    match payload.verify(&reference.hmac, SECRET.as_bytes()) {
        Ok(matched) if payload.render(matched) == reference.text => Ok(()),
        other => Err(TestCaseError::fail(format!(
            "{form:?}: verify gave {other:?} for {body}"
        ))),
    }
}

/// Panics (never skips) when an interpreter is missing.
pub fn require_interpreters() {
    for program in ["python3", "node"] {
        let status = Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "`{program}` is required by the signature reference tests and could not run: {status:?}"
        );
    }
}

#[derive(Debug, Deserialize)]
struct Printed {
    text: String,
    hmac: String,
}

#[derive(Debug, Deserialize)]
struct Output {
    body: String,
    forms: std::collections::BTreeMap<String, Printed>,
}

fn run_reference(program: &str, script: &str, bodies: &[&str]) -> Vec<Output> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "reference", script]
        .iter()
        .collect();
    let mut input = String::new();
    for body in bodies {
        input.push_str(&serde_json::json!({ "body": body, "secret": SECRET }).to_string());
        input.push('\n');
    }
    let mut child = Command::new(program)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("`{program}` is required by the signature reference tests and could not start: {err}")
        });
    // Write from another thread: a large batch would otherwise fill both pipes and block.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "{program} {} failed: {}\n{}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("{program}: {err}: {line}"))
        })
        .collect()
}
