//! The `approval:` block of require_approval rules: what it compiles to, its defaults,
//! every load error, and the test-file keys that assert it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use warden_policy::{Policy, testing};
use warden_protocol::{ApprovalClaims, GrantScope, SessionRule};

fn restart() -> Req {
    Req::new("restart_pod", "production/pod/api-0")
}

/// The approval requirements of the decision `policy` gives `req`, checking that
/// `explain` agrees with `evaluate` on them too.
fn approval_of(policy: &Policy, req: &Req) -> Option<ApprovalClaims> {
    let input = req.input();
    let decision = policy.evaluate(&input);
    assert_eq!(policy.explain(&input).0, decision);
    decision.approval.cloned()
}

/// A policy whose one rule `ask` requires approval with `block` as its `approval:`,
/// written on line 6.
fn ask_with(block: &str) -> String {
    lines(&[
        "version: 1",                      // 1
        "rules:",                          // 2
        "  - id: ask",                     // 3
        "    effect: require_approval",    // 4
        "    reason: a person decides",    // 5
        &format!("    approval: {block}"), // 6
    ])
}

#[test]
fn a_full_block_compiles_to_the_claims_the_token_carries() {
    // Arrange
    let p = with_rules(
        "
        - id: ask
          effect: require_approval
          reason: two people decide
          approval:
            approvers: 2
            roles: [operator, sre]
            expires: 1h30m
            session: {scope: kind, maxTtl: 45m}
        ",
    );

    // Act
    let approval = approval_of(&p, &restart());

    // Assert
    assert_eq!(
        approval,
        Some(ApprovalClaims {
            approvers: 2,
            roles: vec!["operator".into(), "sre".into()],
            expires_in: 5400,
            session: Some(SessionRule {
                scope: GrantScope::Kind,
                max_ttl: 2700,
            }),
        })
    );
}

#[test]
fn without_a_block_or_with_an_empty_one_the_defaults_apply() {
    // Arrange
    let p = with_rules(
        "
        - {id: ask, effect: require_approval, reason: r, match: {actions: [restart_pod]}}
        - {id: ask-empty, effect: require_approval, reason: r, approval: {}}
        ",
    );
    let defaults = ApprovalClaims {
        approvers: 1,
        roles: vec!["operator".into()],
        expires_in: warden_protocol::DEFAULT_APPROVAL_EXPIRY_SECONDS,
        session: None,
    };

    // Act
    let restart_approval = approval_of(&p, &restart());
    let scale_approval = approval_of(&p, &Req::new("scale_deployment", "production:resource"));

    // Assert
    assert_eq!(restart_approval, Some(defaults.clone()));
    assert_eq!(scale_approval, Some(defaults));
    assert_eq!(
        decide(&p, &Req::new("scale_deployment", "production:resource")),
        (RequireApproval, Some("ask-empty".into()))
    );
}

#[test]
fn a_single_role_and_partial_blocks_keep_the_other_defaults() {
    // Arrange
    let p = with_rules(
        "
        - id: ask
          effect: require_approval
          reason: r
          approval: {roles: sre, expires: 90s}
        ",
    );

    // Act
    let approval = approval_of(&p, &restart()).unwrap();

    // Assert
    assert_eq!(approval.approvers, 1);
    assert_eq!(approval.roles, ["sre"]);
    assert_eq!(approval.expires_in, 90);
    assert_eq!(approval.session, None);
}

#[test]
fn only_require_approval_decisions_carry_requirements() {
    // Arrange
    let p = with_rules(
        "
        - {id: no, effect: deny, reason: r, match: {resources: [kube-system]}}
        - {id: ask, effect: require_approval, reason: r, match: {actions: [scale_deployment]}}
        - {id: yes, effect: allow, reason: r, match: {actions: [restart_pod]}}
        ",
    );

    // Act
    let allowed = approval_of(&p, &restart());
    let asked = approval_of(&p, &Req::new("scale_deployment", "production:resource"));
    let denied = approval_of(&p, &Req::new("restart_pod", "kube-system/pod/x"));
    let default_deny = approval_of(&p, &Req::new("drain_node", "production:resource"));

    // Assert
    assert_eq!(allowed, None);
    assert!(asked.is_some());
    assert_eq!(denied, None);
    assert_eq!(default_deny, None);
}

#[test]
fn the_longest_durations_are_24_hours() {
    // Arrange
    let p = policy(&ask_with(
        "{expires: 24h, session: {scope: object, maxTtl: 23h59m60s}}",
    ));

    // Act
    let approval = approval_of(&p, &restart()).unwrap();

    // Assert
    assert_eq!(approval.expires_in, warden_protocol::MAX_APPROVAL_SECONDS);
    assert_eq!(
        approval.session.unwrap().max_ttl,
        warden_protocol::MAX_APPROVAL_SECONDS
    );
}

#[test]
fn bad_values_are_errors_at_their_position() {
    // Each case: the block on line 6 (column 15 is where it starts), the column of the
    // error, and a part of its message.
    let cases: &[(&str, u64, &str)] = &[
        ("{approvers: 0}", 27, "`approvers` must be between 1 and 10"),
        (
            "{approvers: 11}",
            27,
            "`approvers` must be between 1 and 10",
        ),
        (
            "{approvers: -1}",
            27,
            "`approvers` must be between 1 and 10",
        ),
        ("{approvers: 1.5}", 27, "`approvers` must be a whole number"),
        ("{approvers: two}", 27, "`approvers` must be a whole number"),
        ("{roles: []}", 23, "`roles` must not be empty"),
        (
            "{roles: {a: b}}",
            23,
            "`roles` must be a role name or a list",
        ),
        (
            "{roles: [operator, 3]}",
            34,
            "approver roles must be strings",
        ),
        ("{roles: [\"ops*\"]}", 24, "is a pattern"),
        (
            "{roles: [\"on call\"]}",
            24,
            "must be non-empty and contain no spaces",
        ),
        ("{roles: [sre, sre]}", 29, "`sre` is listed twice"),
        ("{expires: 15}", 25, "a bare number has no unit"),
        ("{expires: 15 m}", 25, "`15 m` is not a duration"),
        (
            "{expires: 30m1h}",
            25,
            "hours, minutes and seconds in that order",
        ),
        ("{expires: 0s}", 25, "`expires` must be longer than zero"),
        ("{expires: 25h}", 25, "the longest allowed is 24h"),
        ("{expires: 1441m}", 25, "the longest allowed is 24h"),
        ("{session: namespace}", 25, "`session` must be a mapping"),
        (
            "{session: {scope: cluster, maxTtl: 1h}}",
            33,
            "unknown grant scope `cluster`",
        ),
        (
            "{session: {scope: 1, maxTtl: 1h}}",
            33,
            "`scope` must be object, kind or namespace",
        ),
        (
            "{session: {scope: kind, maxTtl: 0m}}",
            47,
            "`maxTtl` must be longer than zero",
        ),
        (
            "{session: {scope: kind, maxTtl: 2d}}",
            47,
            "`2d` is not a duration",
        ),
        (
            "{session: {scope: kind, maxTtl: 48h}}",
            47,
            "the longest allowed is 24h",
        ),
        (
            "{session: {maxTtl: 1h}}",
            25,
            "`session` is missing `scope`",
        ),
        (
            "{session: {scope: kind}}",
            25,
            "`session` is missing `maxTtl`",
        ),
        (
            "{session: {scope: kind, maxTtl: 1h, ttl: 2h}}",
            51,
            "unknown key `ttl` in `session`",
        ),
        (
            "{approver: 2}",
            16,
            "unknown key `approver` in `approval` (did you mean `approvers`?)",
        ),
        ("[approvers, 2]", 15, "`approval` must be a mapping"),
        ("", 13, "`approval` must be a mapping"),
    ];
    for (block, column, needle) in cases {
        // Act
        let errs = errors(&ask_with(block));

        // Assert
        assert_error(&errs, 6, *column, Some("ask"), needle);
        assert_eq!(errs.len(), 1, "{block}: {errs:?}");
    }
}

#[test]
fn an_approval_block_on_an_allow_or_deny_rule_is_an_error_at_its_key() {
    // Arrange
    let source = lines(&[
        "version: 1",                                          // 1
        "rules:",                                              // 2
        "  - id: yes",                                         // 3
        "    effect: allow",                                   // 4
        "    reason: r",                                       // 5
        "    approval: {approvers: 2}",                        // 6
        "  - {id: no, effect: deny, reason: r, approval: {}}", // 7
    ]);

    // Act
    let errs = errors(&source);

    // Assert
    assert_error(
        &errs,
        6,
        5,
        Some("yes"),
        "`approval` applies only to require_approval rules; this rule's effect is allow",
    );
    assert_error(&errs, 7, 39, Some("no"), "this rule's effect is deny");
    assert_eq!(errs.len(), 2, "{errs:?}");
}

#[test]
fn the_block_is_checked_even_when_the_effect_is_unknown() {
    // Arrange: an author who misspells the effect still learns about the block.
    let source = lines(&[
        "version: 1",
        "rules:",
        "  - id: ask",
        "    effect: require-approval",
        "    reason: r",
        "    approval: {approvers: 20}",
    ]);

    // Act
    let errs = errors(&source);

    // Assert
    assert_error(
        &errs,
        4,
        13,
        Some("ask"),
        "unknown effect `require-approval`",
    );
    assert_error(&errs, 6, 27, Some("ask"), "between 1 and 10");
}

/// A scratch test file against a policy with a require_approval rule `ask` (2 approvers,
/// roles sre and operator, object sessions) and an allow rule `ok`.
fn approval_tests(name: &str, tests: &[&str]) -> std::path::PathBuf {
    let dir = scratch_dir(name);
    std::fs::write(
        dir.join("p.yaml"),
        lines(&[
            "version: 1",
            "rules:",
            "  - id: ask",
            "    effect: require_approval",
            "    reason: r",
            "    match: {actions: [ask]}",
            "    approval: {approvers: 2, roles: [sre, operator], session: {scope: object, maxTtl: 5m}}",
            "  - {id: ok, effect: allow, reason: r}",
        ]),
    )
    .unwrap();
    std::fs::write(dir.join("p.tests.yaml"), lines(tests)).unwrap();
    dir.join("p.tests.yaml")
}

#[test]
fn test_files_assert_approvers_roles_and_session() {
    // Arrange
    let tests = approval_tests(
        "expect-approval",
        &[
            "policy: p.yaml",
            "cases:",
            "  - name: all asserted",
            "    request: {action: ask, resource: \"pod:x\"}",
            "    expect: {decision: require_approval, rule: ask, approvers: 2,",
            "             roles: [operator, sre], session: object}",
            "  - name: approvers only",
            "    request: {action: ask, resource: \"pod:x\"}",
            "    expect: {decision: require_approval, approvers: 2}",
            "  - name: wrong approvers",
            "    request: {action: ask, resource: \"pod:x\"}",
            "    expect: {decision: require_approval, rule: ask, approvers: 1}",
            "  - name: wrong session",
            "    request: {action: ask, resource: \"pod:x\"}",
            "    expect: {decision: require_approval, session: none}",
            "  - name: wrong roles",
            "    request: {action: ask, resource: \"pod:x\"}",
            "    expect: {decision: require_approval, roles: [sre]}",
            "  - name: not asked at all",
            "    request: {action: other, resource: \"pod:x\"}",
            "    expect: {decision: require_approval, approvers: 2}",
        ],
    );

    // Act
    let report = testing::run_file(&tests).unwrap();

    // Assert
    let outcome: Vec<(&str, bool)> = report
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.passed))
        .collect();
    assert_eq!(
        outcome,
        [
            ("all asserted", true),
            ("approvers only", true),
            ("wrong approvers", false),
            ("wrong session", false),
            ("wrong roles", false),
            ("not asked at all", false),
        ]
    );
    let first = &report.cases[0];
    assert_eq!(
        first.expected,
        "require_approval by ask (approvers 2, roles [operator, sre], session object)"
    );
    assert_eq!(first.actual, first.expected);
    let wrong = &report.cases[2];
    assert_eq!(wrong.expected, "require_approval by ask (approvers 1)");
    assert_eq!(wrong.actual, "require_approval by ask (approvers 2)");
    assert_eq!(
        report.cases[3].actual,
        "require_approval by ask (session object)"
    );
    assert_eq!(report.cases[5].actual, "allow by ok");
}

#[test]
fn malformed_approval_expectations_are_errors_with_lines() {
    // Arrange
    let tests = approval_tests(
        "bad-expect-approval",
        &[
            "policy: p.yaml",                                             // 1
            "cases:",                                                     // 2
            "  - name: approvers on an allow",                            // 3
            "    request: {action: a, resource: \"pod:x\"}",              // 4
            "    expect: {decision: allow, approvers: 1}",                // 5
            "  - name: zero approvers",                                   // 6
            "    request: {action: ask, resource: \"pod:x\"}",            // 7
            "    expect: {decision: require_approval, approvers: 0}",     // 8
            "  - name: bad session",                                      // 9
            "    request: {action: ask, resource: \"pod:x\"}",            // 10
            "    expect: {decision: require_approval, session: cluster}", // 11
            "  - name: bad roles",                                        // 12
            "    request: {action: ask, resource: \"pod:x\"}",            // 13
            "    expect: {decision: require_approval, roles: []}",        // 14
            "  - name: session on a deny",                                // 15
            "    request: {action: ask, resource: \"pod:x\"}",            // 16
            "    expect: {decision: deny, session: none}",                // 17
        ],
    );

    // Act
    let errs = testing::run_file(&tests).unwrap_err().0;

    // Assert
    assert_error(
        &errs,
        5,
        42,
        None,
        "`approvers` applies only to `decision: require_approval`; this case expects allow",
    );
    assert_error(
        &errs,
        8,
        53,
        None,
        "`approvers` must be the number of people",
    );
    assert_error(
        &errs,
        11,
        51,
        None,
        "`session` must be object, kind, namespace or none, found `cluster`",
    );
    assert_error(&errs, 14, 49, None, "`roles` must be the approver roles");
    assert_error(&errs, 17, 39, None, "this case expects deny");
    assert_eq!(errs.len(), 5, "{errs:?}");
}

#[test]
fn the_default_policy_approves_as_documented() {
    // Arrange
    let p = Policy::load(&policies_dir().join("default.yaml")).unwrap();
    let medium = Req::new("restart_pod", "production/pod/api-0")
        .metadata(serde_json::json!({"severity": "medium"}));
    let rollout = Req::new("rollout_restart_deployment", "production/deployment/api");

    // Act
    let medium_approval = approval_of(&p, &medium).unwrap();
    let rollout_approval = approval_of(&p, &rollout).unwrap();

    // Assert
    assert_eq!(
        medium_approval.session,
        Some(SessionRule {
            scope: GrantScope::Namespace,
            max_ttl: 3600,
        })
    );
    assert_eq!(medium_approval.expires_in, 900);
    assert_eq!(rollout_approval.session, None);
    assert_eq!(
        (rollout_approval.approvers, rollout_approval.roles),
        (1, vec!["operator".to_owned()])
    );
}
