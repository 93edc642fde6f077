#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The four client serialisations of the execute signature, checked against the real
//! thing: `python3` and `node` run the reference clients in `tests/reference/`, which print
//! the body they would send, each form's text and its HMAC. Our payload, parsed from that
//! body, must print the same text and verify the same HMAC.
//!
//! Python and Node are required: a missing interpreter fails these tests, it never skips
//! them. Each test (and each property-test batch) starts each interpreter once.

use executor_service::signature::{SignatureError, SignatureForm};
use helpers::*;
use proptest::test_runner::{Config, TestRunner};

// --- cases with fixed bodies -------------------------------------------------------------

#[test]
fn design_example_matches_python_and_node() {
    // Arrange
    let body = EXAMPLE;

    // Act
    let clients = reference_clients(&[body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
    assert_eq!(
        clients[0].form(SignatureForm::JsInsertion).text,
        r#"{"actionType":"restart_pod","actionParams":{"namespace":"default","podName":"api-pod-12345"},"requestedBy":"ai-engine"}"#
    );
}

#[test]
fn non_ascii_strings_and_keys_match() {
    // Arrange
    let body = request(
        r#"{"message": "café 中文 😀", "ключ": "значение", "emoji😀": ["é", "中", "\u00e9\ud83d\ude00"], "｡": "halfwidth"}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
    assert!(
        clients[0]
            .form(SignatureForm::PythonDefault)
            .text
            .contains(r#""caf\u00e9 \u4e2d\u6587 \ud83d\ude00""#)
    );
}

#[test]
fn control_characters_match() {
    // Arrange
    let body = request(
        r#"{"s": "\u0000\u0001\b\t\n\u000b\f\r\u001f\u007f\"\\/ end\u2028\u2029", "\n": "key with a newline", "\u0007": 1}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
}

#[test]
fn numeric_looking_keys_match_js_object_order() {
    // Arrange
    let body = request(
        r#"{"b": 1, "10": 2, "2": 3, "4294967295": 4, "4294967294": 5, "01": 6, "-1": 7, "": 8}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    let client = &clients[0];
    assert_all_forms_verify(client);
    assert!(
        client
            .form(SignatureForm::JsInsertion)
            .text
            .contains(r#"{"2":3,"10":2,"4294967294":5,"b":1,"4294967295":4,"01":6,"-1":7,"":8}"#),
        "{:?}",
        client.form(SignatureForm::JsInsertion)
    );
    // A body written in Python's order still gives what the JS client holding it signs.
    assert_js_forms_verify_against(&client.python_body, client);
}

#[test]
fn nested_objects_and_arrays_match() {
    // Arrange
    let body = request(
        r#"{"z": {"y": [1, {"b": [], "a": {}}], "x": null, "w": {"3": {"1": [true, false]}}}, "a": [true, false, null, [[]], [{"k": "v", "j": [{}]}]]}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
}

#[test]
fn floats_match_when_the_body_comes_from_the_same_serialiser() {
    // Arrange: Python and JS print most of these differently (1.0/1, 1e-07/1e-7, 1e+16/
    // 10000000000000000, -0.0/0), so each form is checked against its own client's body.
    let body = request(
        "[1.5, 0.1, 1.0, -0.0, 1e21, 1e-7, 0.000001, 0.00001, 123456789.125, 1e16, 5e-324, 1.7976931348623157e308, -2.5e-300, 9007199254740993]",
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    let client = &clients[0];
    assert_all_forms_verify(client);
    assert!(
        client
            .form(SignatureForm::PythonDefault)
            .text
            .contains("[1.5, 0.1, 1.0, -0.0, 1e+21, 1e-07, 1e-06, 1e-05,")
    );
    assert!(
        client
            .form(SignatureForm::JsInsertion)
            .text
            .contains("[1.5,0.1,1,0,1e+21,1e-7,0.000001,0.00001,")
    );
}

#[test]
fn lone_surrogates_match() {
    // Arrange
    let body = request(
        r#"{"high": "\ud800", "low": "x\udfffy", "\udbff": "key", "pair": "\ud83d\ud83d\ude00"}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
}

#[test]
fn top_level_order_follows_the_body_and_missing_members_are_absent() {
    // Arrange
    let reordered = r#"{"signature": "00", "requestedBy": "ai-engine", "policyDecision": {"allowed": true}, "actionParams": {"podName": "p", "namespace": "default"}, "dryRun": true, "actionType": "restart_pod"}"#;
    let missing = r#"{"actionType": "restart_pod", "policyDecision": {}, "actionParams": {"namespace": "default"}}"#;

    // Act
    let clients = reference_clients(&[reordered, missing]);

    // Assert
    clients.iter().for_each(assert_all_forms_verify);
    assert!(
        clients[0]
            .form(SignatureForm::JsInsertion)
            .text
            .starts_with(r#"{"requestedBy":"ai-engine","actionParams""#)
    );
    assert!(
        !clients[1]
            .form(SignatureForm::PythonDefault)
            .text
            .contains("requestedBy")
    );
}

// --- refusals ------------------------------------------------------------------------------

#[test]
fn a_wrong_secret_is_a_mismatch() {
    // Arrange
    let clients = reference_clients(&[EXAMPLE]);

    for reference in &clients[0].forms {
        let payload = payload(client_body(&clients[0], reference.form));

        // Act
        let verified = payload.verify(&reference.hmac, b"not-the-secret-of-this-client-000");

        // Assert
        assert_eq!(
            verified,
            Err(SignatureError::Mismatch),
            "{:?}",
            reference.form
        );
    }
}

#[test]
fn tampered_params_are_a_mismatch() {
    // Arrange
    let clients = reference_clients(&[EXAMPLE]);

    for reference in &clients[0].forms {
        let body = client_body(&clients[0], reference.form);
        let tampered = body.replacen("api-pod-12345", "api-pod-12346", 1);
        assert_ne!(tampered, body);

        // Act
        let verified = payload(&tampered).verify(&reference.hmac, SECRET.as_bytes());

        // Assert
        assert_eq!(
            verified,
            Err(SignatureError::Mismatch),
            "{:?}",
            reference.form
        );
    }
}

#[test]
fn malformed_hex_is_malformed() {
    // Arrange
    let clients = reference_clients(&[EXAMPLE]);
    let reference = clients[0].form(SignatureForm::PythonDefault);
    let payload = payload(&clients[0].python_body);

    for signature in [
        reference.hmac[..63].to_owned(),
        format!("{}0", reference.hmac),
        format!("z{}", &reference.hmac[1..]),
        String::new(),
    ] {
        // Act
        let verified = payload.verify(&signature, SECRET.as_bytes());

        // Assert
        assert_eq!(verified, Err(SignatureError::Malformed), "{signature:?}");
    }
}

// --- property: random actionParams --------------------------------------------------------

#[test]
fn random_requests_verify_in_all_four_forms() {
    // Arrange: fail now, not inside the runner, if an interpreter is missing.
    require_interpreters();
    let mut runner = TestRunner::new(Config {
        cases: 2,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });

    // Act: each run is one batch, so each interpreter starts once per batch.
    let result = runner.run(
        &proptest::collection::vec(random::request(), 150),
        |requests| {
            let bodies: Vec<String> = requests.iter().map(random::Request::body).collect();
            let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
            let clients = reference_clients(&refs);
            for (request, client) in requests.iter().zip(&clients) {
                for reference in &client.forms {
                    check_reference(client_body(client, reference.form), reference)?;
                    if request.portable && !reference.form.is_python() {
                        check_reference(&client.python_body, reference)?;
                    }
                }
            }
            Ok(())
        },
    );

    // Assert
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

// --- helpers -------------------------------------------------------------------------------

mod helpers {
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    use executor_service::signature::{SignatureForm, SignedPayload, sign};
    use proptest::test_runner::TestCaseError;
    use serde::Deserialize;

    /// The secret every reference client signs with.
    pub const SECRET: &str = "reference-client-secret-0123456789";

    /// The design notes' example request.
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
}

/// Random requests as a client would hold them, printed as JSON with members in order.
mod random {
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// A JSON value with ordered object members.
    #[derive(Debug, Clone)]
    pub enum Json {
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        Arr(Vec<Json>),
        Obj(Vec<(String, Json)>),
    }

    impl Json {
        fn write(&self, out: &mut String) {
            match self {
                Json::Null => out.push_str("null"),
                Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Json::Int(i) => out.push_str(&i.to_string()),
                // Rust's shortest round-trip form is valid JSON and always reads back as a
                // float in Python (`1.0`, `1e16`, `5e-324`).
                Json::Float(f) => out.push_str(&format!("{f:?}")),
                Json::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
                Json::Arr(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        item.write(out);
                    }
                    out.push(']');
                }
                Json::Obj(members) => {
                    out.push('{');
                    for (i, (key, value)) in members.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(key).unwrap());
                        out.push(':');
                        value.write(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// A request: top-level members in a random order, signed ones sometimes missing.
    #[derive(Debug, Clone)]
    pub struct Request {
        pub members: Vec<(String, Json)>,
        /// No floats and no integers beyond 2^53, so Python and JS print every number
        /// alike and the JS forms must also come out of the Python client's body.
        pub portable: bool,
    }

    impl Request {
        pub fn body(&self) -> String {
            let mut out = String::new();
            Json::Obj(self.members.clone()).write(&mut out);
            out
        }
    }

    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            6 => proptest::char::range('a', 'z'),
            2 => proptest::char::range(' ', '~'),
            1 => proptest::char::range('\0', '\u{1f}'),
            2 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', 'ß', '中', '文', '😀', '\u{2028}', '\u{ff61}', '\u{ffff}', '\u{10ffff}']),
            1 => any::<char>(),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        vec(tricky_char(), 0..10).prop_map(String::from_iter)
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-zA-Z]{1,8}",
            2 => prop::sample::select(vec!["0", "1", "2", "9", "10", "01", "-1", "1.5", "4294967294", "4294967295", "", "😀", "\u{ff61}", "é", "Z", "_"]).prop_map(str::to_owned),
            1 => "[0-9]{1,3}",
            1 => text(),
        ]
    }

    fn number(portable: bool) -> BoxedStrategy<Json> {
        const SAFE: i64 = 1 << 53;
        let int = (-SAFE..=SAFE).prop_map(Json::Int);
        if portable {
            return int.boxed();
        }
        let float = prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            prop::sample::select(vec![
                0.1,
                1.0,
                -0.0,
                0.0,
                1e21,
                1e16,
                1e-7,
                0.000001,
                0.00001,
                5e-324,
                f64::MAX,
                123.456,
                1.5
            ]),
        ];
        prop_oneof![
            int,
            any::<i64>().prop_map(Json::Int),
            float.prop_map(Json::Float)
        ]
        .boxed()
    }

    fn value(portable: bool) -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            number(portable),
            text().prop_map(Json::Str),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![vec(inner.clone(), 0..5).prop_map(Json::Arr), object(inner),]
        })
    }

    fn object(values: impl Strategy<Value = Json>) -> impl Strategy<Value = Json> {
        vec((key(), values), 0..7).prop_map(|members| {
            let mut unique: Vec<(String, Json)> = Vec::new();
            for (key, value) in members {
                if unique.iter().all(|(k, _)| *k != key) {
                    unique.push((key, value));
                }
            }
            Json::Obj(unique)
        })
    }

    pub fn request() -> impl Strategy<Value = Request> {
        any::<bool>().prop_flat_map(|portable| {
            let params = prop_oneof![4 => object(value(portable)), 1 => value(portable)];
            (
                prop::option::weighted(0.9, text()),
                prop::option::weighted(0.95, params),
                prop::option::weighted(0.9, text()),
                object(value(portable)),
                any::<bool>(),
            )
                .prop_flat_map(
                    move |(action, params, requester, decision, dry_run)| {
                        let mut members = vec![
                            ("policyDecision".to_owned(), decision),
                            ("signature".to_owned(), Json::Str("0".repeat(64))),
                        ];
                        if dry_run {
                            members.push(("dryRun".to_owned(), Json::Bool(true)));
                        }
                        let signed = [
                            ("actionType", action.map(Json::Str)),
                            ("actionParams", params),
                            ("requestedBy", requester.map(Json::Str)),
                        ];
                        for (name, value) in signed {
                            if let Some(value) = value {
                                members.push((name.to_owned(), value));
                            }
                        }
                        Just(members)
                            .prop_shuffle()
                            .prop_map(move |members| Request { members, portable })
                    },
                )
        })
    }
}
