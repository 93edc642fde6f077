//! `policy-service`: see the library crate for the service and `--help` for the commands.

fn main() -> std::process::ExitCode {
    policy_service::cli::main()
}
