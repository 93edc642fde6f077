//! The `policy-service` command line, run as a process: `--help` says what it does and where to
//! read more, `--version` names it, and an unknown argument is a usage error.

#[test]
fn help_version_and_an_unknown_argument_behave_as_every_warden_binary() {
    warden_test_support::process::assert_command_line(
        env!("CARGO_BIN_EXE_policy-service"),
        "policy-service",
        env!("CARGO_PKG_VERSION"),
        &[
            "Warden's policy service",
            "check",
            "keygen",
            ".env.example",
            "README.md",
        ],
    );
}
