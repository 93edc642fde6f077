//! Load-time checks: every problem is reported at once, with file, line, column and
//! rule id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use warden_policy::Policy;

/// One file with a problem in nearly every rule; line numbers are the index + 1.
fn broken_policy() -> String {
    lines(&[
        "version: 1",                                            // 1
        "principals:",                                           // 2
        "  ai-engine: {roles: [service]}",                       // 3
        "rules:",                                                // 4
        "  - id: allow-x",                                       // 5
        "    effect: allow",                                     // 6
        "    reason: ok",                                        // 7
        "    when: metadata.severity => high",                   // 8
        "  - id: allow-x",                                       // 9
        "    effect: allow",                                     // 10
        "    reason: dup",                                       // 11
        "  - id: bad-effect",                                    // 12
        "    effect: permit",                                    // 13
        "    reason: r",                                         // 14
        "  - id: no-reason",                                     // 15
        "    effect: deny",                                      // 16
        "  - effect: allow",                                     // 17
        "    reason: no id",                                     // 18
        "  - id: bad-field",                                     // 19
        "    effect: allow",                                     // 20
        "    reason: r",                                         // 21
        "    when:",                                             // 22
        "      all:",                                            // 23
        "        - foo.bar == 1",                                // 24
        "        - {field: metadata.x, op: in, value: high}",    // 25
        "        - {field: metadata.x, op: \">\", value: true}", // 26
        "  - id: bad-resources",                                 // 27
        "    effect: deny",                                      // 28
        "    reason: r",                                         // 29
        "    match:",                                            // 30
        "      resources: [\"a/b/c/d\", \"a//c\"]",              // 31
        "      action: [x]",                                     // 32
        "  - id: empty-all",                                     // 33
        "    effect: deny",                                      // 34
        "    reason: r",                                         // 35
        "    when: {all: []}",                                   // 36
        "  - id: bad-shorthand",                                 // 37
        "    effect: allow",                                     // 38
        "    reason: r",                                         // 39
        "    when: metadata.x==1",                               // 40
    ])
}

#[test]
fn every_problem_is_reported_with_line_column_and_rule() {
    // Act
    let errs = errors(&broken_policy());

    // Assert
    assert_error(&errs, 8, 11, Some("allow-x"), "unknown operator `=>`");
    assert_error(
        &errs,
        9,
        9,
        Some("allow-x"),
        "duplicate rule id `allow-x` (first on line 5)",
    );
    assert_error(&errs, 13, 13, Some("bad-effect"), "unknown effect `permit`");
    assert_error(&errs, 15, 5, Some("no-reason"), "missing `reason`");
    assert_error(&errs, 17, 5, None, "rule is missing `id`");
    assert_error(&errs, 24, 11, Some("bad-field"), "unknown field `foo.bar`");
    assert_error(&errs, 25, 46, Some("bad-field"), "`in` needs a list");
    assert_error(
        &errs,
        26,
        47,
        Some("bad-field"),
        "`>` needs a number or a string, found a boolean",
    );
    assert_error(&errs, 31, 19, Some("bad-resources"), "has 4 parts");
    assert_error(&errs, 31, 30, Some("bad-resources"), "has an empty part");
    assert_error(
        &errs,
        32,
        7,
        Some("bad-resources"),
        "unknown key `action` in `match` (did you mean `actions`?)",
    );
    assert_error(
        &errs,
        36,
        17,
        Some("empty-all"),
        "`all` needs at least one condition",
    );
    assert_error(
        &errs,
        40,
        11,
        Some("bad-shorthand"),
        "put spaces around the operator",
    );
    assert_eq!(
        errs.len(),
        13,
        "no more, no less:\n{}",
        warden_policy::PolicyErrors(errs.clone())
    );
}

#[test]
fn errors_are_in_file_order_and_display_as_file_line_column_rule_message() {
    let errs = Policy::parse(&broken_policy(), "default.yaml").unwrap_err();

    let text = errs.to_string();
    let first = text.lines().next().unwrap();

    assert!(
        first.starts_with("default.yaml:8:11: rule `allow-x`: unknown operator `=>`"),
        "{first}"
    );
    assert_eq!(text.lines().count(), errs.0.len());
    let positions: Vec<_> = errs.0.iter().map(|e| (e.line, e.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
}

#[test]
fn display_leaves_out_unknown_parts() {
    let e = warden_policy::PolicyError {
        file: "p.yaml".into(),
        line: None,
        column: None,
        rule: None,
        message: "cannot read policy file".into(),
    };

    assert_eq!(e.to_string(), "p.yaml: cannot read policy file");
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    let errs = errors(&lines(&[
        "version: 1",
        "rules:",
        "  - id: a",
        "    effect: [allow",
    ]));

    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, Some(4));
    assert_eq!(errs[0].column, Some(13));
    assert!(
        errs[0].message.starts_with("invalid YAML"),
        "{}",
        errs[0].message
    );
}

#[test]
fn duplicate_yaml_keys_are_errors() {
    let errs = errors(&lines(&["version: 1", "rules:", "  - id: a", "    id: b"]));

    assert_eq!((errs[0].line, errs[0].column), (Some(4), Some(5)));
    assert!(errs[0].message.contains("duplicate"), "{}", errs[0].message);
}

#[test]
fn top_level_problems() {
    let errs = errors(&lines(&["verison: 1", "rules: {}"]));

    assert_error(
        &errs,
        1,
        1,
        None,
        "unknown key `verison` in the policy file",
    );
    assert_error(&errs, 1, 1, None, "missing `version: 1`");
    assert_error(&errs, 2, 8, None, "`rules` must be a list");
    assert_error(
        &errors("version: 2\nrules: []\n"),
        1,
        10,
        None,
        "unsupported version `2`",
    );
    assert_error(&errors("- a\n"), 1, 1, None, "a policy file is a mapping");
    assert_error(&errors(""), 1, 1, None, "a policy file is a mapping");
}

#[test]
fn principal_problems() {
    let errs = errors(&lines(&[
        "version: 1",
        "principals:",
        "  a: {roles: []}",
        "  b: {role: [x]}",
        "  c:",
        "rules: []",
    ]));

    assert_error(&errs, 3, 14, None, "`roles` is an empty list");
    assert_error(
        &errs,
        4,
        7,
        None,
        "unknown key `role` in principal `b` (did you mean `roles`?)",
    );
    assert_error(&errs, 4, 6, None, "principal `b` is missing `roles`");
    assert_error(&errs, 5, 3, None, "principal `c` needs `roles`");
}

#[test]
fn condition_shape_problems() {
    let errs = errors(&lines(&[
        "version: 1",
        "rules:",
        "  - id: a",
        "    effect: allow",
        "    reason: r",
        "    when:",
        "      any: [metadata.x == 1]",
        "      not: metadata.y == 2",
        "  - id: b",
        "    effect: allow",
        "    reason: r",
        "    when: {field: metadata.x, op: \"==\", value: [1, 2], extra: 1}",
        "  - id: c",
        "    effect: allow",
        "    reason: r",
        "    when: metadata.x exists maybe",
        "  - id: d",
        "    effect: allow",
        "    reason: r",
        "    when: context.metadata == 1",
        "  - id: e",
        "    effect: allow",
        "    reason: r",
        "    when: metadata.x",
        "  - id: f",
        "    effect: allow",
        "    reason: r",
        "    when: subject.roles >= 1",
        "  - id: g",
        "    effect: allow",
        "    reason: r",
        "    when: metadata.x == null",
    ]));

    assert_error(&errs, 8, 7, Some("a"), "unexpected key `not` next to `any`");
    assert_error(
        &errs,
        12,
        56,
        Some("b"),
        "unknown key `extra` in a condition",
    );
    assert_error(&errs, 12, 48, Some("b"), "use `in` / `not in` for a list");
    assert_error(&errs, 16, 11, Some("c"), "`exists` takes no value");
    assert_error(&errs, 20, 11, Some("d"), "needs a path into the metadata");
    assert_error(&errs, 24, 11, Some("e"), "has no operator");
    assert_error(&errs, 28, 11, Some("f"), "`subject.roles` is a list");
    assert_error(&errs, 32, 11, Some("g"), "null is not a value");
}

#[test]
fn target_problems() {
    let errs = errors(&lines(&[
        "version: 1",
        "rules:",
        "  - id: a",
        "    effect: allow",
        "    reason: \"\"",
        "    match:",
        "      actions: []",
        "      subjects: {}",
        "      resources: [\"pod:api-*\", 7]",
        "      types: {a: b}",
        "  - id: has space",
        "    effect: maybe",
        "    reason: r",
        "    match: [x]",
    ]));

    assert_error(&errs, 5, 13, Some("a"), "`reason` must not be empty");
    assert_error(&errs, 7, 16, Some("a"), "`actions` is an empty list");
    assert_error(
        &errs,
        8,
        17,
        Some("a"),
        "`subjects` needs `users` and/or `roles`",
    );
    assert_error(&errs, 9, 19, Some("a"), "uses `:`");
    assert_error(
        &errs,
        9,
        32,
        Some("a"),
        "`resources` entries must be strings, found a number",
    );
    assert_error(
        &errs,
        10,
        14,
        Some("a"),
        "`types` must be a string or a list of strings",
    );
    assert_error(
        &errs,
        11,
        9,
        None,
        "must be non-empty and contain no spaces",
    );
    assert_error(&errs, 12, 13, None, "unknown effect `maybe`");
    assert_error(&errs, 14, 12, None, "`match` must be a mapping");
}

#[test]
fn unreadable_file_is_an_error_without_position() {
    let path = scratch_dir("unreadable").join("missing.yaml");

    let errs = Policy::load(&path).unwrap_err();

    assert_eq!(errs.0.len(), 1);
    assert_eq!(errs.0[0].line, None);
    assert_eq!(errs.0[0].file, path.display().to_string());
    assert!(errs.0[0].message.contains("cannot read policy file"));
}
