//! The shipped default policy, its test file, and the test-file runner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::*;
use warden_policy::{Policy, testing};
use warden_protocol::PolicyRequest;

fn default_policy() -> Policy {
    Policy::load(&policies_dir().join("default.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Decides a wire request the way the service does in development mode.
fn decide_json(p: &Policy, body: &str) -> (warden_protocol::DecisionKind, Option<String>) {
    let request: PolicyRequest = serde_json::from_str(body).unwrap();
    let d = with_wire_input(p, &request, |input| {
        let d = p.evaluate(input);
        assert_eq!(p.explain(input).0, d);
        d
    });
    (d.kind, d.rule.map(str::to_owned))
}

#[test]
fn the_default_test_file_passes() {
    // Act
    let report = testing::run_file(&policies_dir().join("default.tests.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));

    // Assert
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: expected {}, got {}", c.name, c.expected, c.actual))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(report.passed() >= 12);
    assert_eq!(report.failed(), 0);
    assert!(report.policy_file.ends_with("default.yaml"));
}

#[test]
fn seed_requests_behave_as_users_expect() {
    let p = default_policy();
    let ctx = r#""context":{"userId":"ai-engine","role":"service","metadata":{"severity":"high","confidence":0.93,"automated":true}}"#;

    let restart = decide_json(
        &p,
        &format!(
            r#"{{"action":"restart_pod","resource":"pod:api-pod-12345","type":"self_healing",{ctx}}}"#
        ),
    );
    let wide = decide_json(
        &p,
        &format!(r#"{{"action":"scale_deployment","resource":"production:resource",{ctx}}}"#),
    );
    let canonical = decide_json(
        &p,
        &format!(
            r#"{{"action":"scale_deployment","resource":"production/deployment/api-deployment",{ctx}}}"#
        ),
    );
    let system = decide_json(
        &p,
        &format!(r#"{{"action":"restart_pod","resource":"kube-system/pod/x",{ctx}}}"#),
    );
    let unknown = decide_json(
        &p,
        &format!(r#"{{"action":"drain_node","resource":"production:resource",{ctx}}}"#),
    );

    assert_eq!(restart, (Allow, Some("allow-ai-remediation".into())));
    assert_eq!(wide, (Allow, Some("allow-ai-remediation".into())));
    assert_eq!(canonical, (Allow, Some("allow-ai-remediation".into())));
    assert_eq!(system, (Deny, Some("deny-system-namespaces".into())));
    assert_eq!(unknown, (Deny, Some("deny-unknown-actions".into())));
}

#[test]
fn the_default_policy_declares_its_principals() {
    let p = default_policy();

    assert_eq!(
        p.principal_roles("ai-engine"),
        Some(&["service".to_owned()][..])
    );
    assert_eq!(p.principal_roles("ops"), Some(&["operator".to_owned()][..]));
}

/// A scratch directory `name` with `p.yaml`, a policy whose one rule `ok` allows
/// everything, and `p.tests.yaml` of `tests`; returns the test file's path.
fn ok_policy_with_tests(name: &str, tests: &[&str]) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::write(
        dir.join("p.yaml"),
        "version: 1\nrules:\n  - {id: ok, effect: allow, reason: r}\n",
    )
    .unwrap();
    std::fs::write(dir.join("p.tests.yaml"), lines(tests)).unwrap();
    dir.join("p.tests.yaml")
}

#[test]
fn a_failing_case_is_reported_not_an_error() {
    let tests = ok_policy_with_tests(
        "failing-case",
        &[
            "policy: p.yaml",
            "cases:",
            "  - name: passes",
            "    request: {action: a, resource: \"pod:x\"}",
            "    expect: {decision: allow, rule: ok}",
            "  - name: fails",
            "    request: {action: a, resource: \"pod:x\"}",
            "    expect: {decision: deny, rule: null}",
            "  - name: decision only",
            "    request: {action: a, resource: \"pod:x\"}",
            "    expect: {decision: allow}",
        ],
    );

    let report = testing::run_file(&tests).unwrap();

    assert_eq!((report.passed(), report.failed()), (2, 1));
    let failed = &report.cases[1];
    assert_eq!(failed.name, "fails");
    assert_eq!(failed.expected, "deny by default");
    assert_eq!(failed.actual, "allow by ok");
}

#[test]
fn test_file_problems_are_errors_with_lines() {
    let tests = ok_policy_with_tests(
        "bad-tests",
        &[
            "policy: p.yaml",                                            // 1
            "cases:",                                                    // 2
            "  - name: bad resource",                                    // 3
            "    request: {action: a, resource: \"a/b/c/d\"}",           // 4
            "    expect: {decision: allow}",                             // 5
            "  - name: typo",                                            // 6
            "    request: {action: a, resource: \"pod:x\", contxt: {}}", // 7
            "    expect: {decision: permit}",                            // 8
            "  - name: unknown rule",                                    // 9
            "    request: {action: a, resource: \"pod:x\"}",             // 10
            "    expect: {decision: allow, rule: nope}",                 // 11
        ],
    );

    let errs = testing::run_file(&tests).unwrap_err().0;

    assert_error(&errs, 4, 36, None, "not in a known form");
    assert_error(&errs, 7, 45, None, "unknown key `contxt` in `request`");
    assert_error(
        &errs,
        8,
        24,
        None,
        "`decision` must be allow, deny or require_approval",
    );
    assert_error(
        &errs,
        11,
        37,
        None,
        "expects rule `nope`, which the policy does not have",
    );
    assert!(errs.iter().all(|e| e.file.ends_with("p.tests.yaml")));
}

#[test]
fn a_broken_policy_makes_the_test_file_fail_with_the_policy_errors() {
    let dir = scratch_dir("broken-policy");
    std::fs::write(
        dir.join("p.yaml"),
        "version: 1\nrules:\n  - {id: x, effect: allow}\n",
    )
    .unwrap();
    std::fs::write(dir.join("p.tests.yaml"), "policy: p.yaml\ncases: []\n").unwrap();

    let errs = testing::run_file(&dir.join("p.tests.yaml")).unwrap_err().0;

    assert_eq!(errs.len(), 1);
    assert!(errs[0].file.ends_with("p.yaml"));
    assert_eq!(errs[0].rule.as_deref(), Some("x"));
    assert!(errs[0].message.contains("missing `reason`"));
}
