//! Why the audit store cannot be opened at start-up, in words an operator can act on.
//!
//! The pool connects lazily and reports only "timed out waiting for a connection", which
//! hides the cause (nothing listens, the database does not exist, the password is wrong).
//! So before the pool is used, start-up makes one direct connection and translates its
//! error. The messages name host, port, database and user, never the password or the URL.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// How long the start-up probe waits for Postgres to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The schemes `DATABASE_URL` may have, for the message that refuses any other.
pub const SUPPORTED: &str =
    "postgres:// (or postgresql://) for Postgres, sqlite:// for the embedded store";

/// Refuses a `DATABASE_URL` whose scheme is neither Postgres nor SQLite.
pub fn check_scheme(url: &str) -> Result<(), String> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme {
        "postgres" | "postgresql" | "sqlite" => Ok(()),
        "" => Err(format!("DATABASE_URL has no scheme: use {SUPPORTED}")),
        other => Err(format!(
            "DATABASE_URL: unsupported scheme `{}`: use {SUPPORTED}",
            other.chars().take(32).collect::<String>()
        )),
    }
}

/// Connects once to the database `options` names and closes the connection; on failure,
/// says why.
pub async fn probe(options: &PgConnectOptions) -> Result<(), String> {
    let place = Place::of(options);
    match tokio::time::timeout(PROBE_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(err)) => Err(explain(&place, &err)),
        Err(_) => Err(format!(
            "DATABASE_URL: no answer from Postgres at {} within {}s",
            place.address,
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// Where the probe connected: what the messages may show.
struct Place {
    address: String,
    database: String,
    user: String,
}

impl Place {
    fn of(options: &PgConnectOptions) -> Place {
        Place {
            address: format!("{}:{}", options.get_host(), options.get_port()),
            database: options
                .get_database()
                .unwrap_or(options.get_username())
                .to_owned(),
            user: options.get_username().to_owned(),
        }
    }
}

/// One short sentence per cause, with the way out where there is one.
fn explain(place: &Place, err: &sqlx::Error) -> String {
    let Place {
        address,
        database,
        user,
    } = place;
    match err {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "DATABASE_URL: connection refused by {address}: is Postgres running there, on that port?"
        ),
        sqlx::Error::Io(io) => {
            format!("DATABASE_URL: cannot reach Postgres at {address}: {io}")
        }
        sqlx::Error::Tls(tls) => format!("DATABASE_URL: TLS with {address} failed: {tls}"),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_catalog_name
            Some("3D000") => format!(
                "DATABASE_URL: database `{database}` does not exist on {address}; create it first, e.g. `createdb -h {host} -p {port} -U {user} {database}` (the executor creates its tables itself)",
                host = address
                    .rsplit_once(':')
                    .map_or(address.as_str(), |(h, _)| h),
                port = address.rsplit_once(':').map_or("5432", |(_, p)| p),
            ),
            // invalid_password, invalid_authorization_specification
            Some("28P01") | Some("28000") => format!(
                "DATABASE_URL: authentication failed for user `{user}` at {address}: check the user and password (and pg_hba.conf)"
            ),
            _ => format!(
                "DATABASE_URL: Postgres at {address} refused the connection: {}",
                db.message()
            ),
        },
        other => format!("DATABASE_URL: cannot connect to Postgres at {address}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_postgres_and_sqlite_schemes_are_accepted() {
        for ok in [
            "postgres://u@h/db",
            "postgresql://h/db",
            "sqlite://data/w.db",
            "sqlite::memory:",
        ] {
            assert_eq!(check_scheme(ok), Ok(()), "{ok}");
        }
        let mysql = check_scheme("mysql://x").unwrap_err();
        assert!(mysql.contains("unsupported scheme `mysql`"), "{mysql}");
        assert!(mysql.contains("postgres://"), "{mysql}");
        assert!(check_scheme("warden").unwrap_err().contains("no scheme"));
    }

    #[tokio::test]
    async fn a_port_where_nothing_listens_is_named_with_connection_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options: PgConnectOptions =
            format!("postgres://warden:secret-pw@127.0.0.1:{port}/warden")
                .parse()
                .unwrap();
        let message = probe(&options).await.unwrap_err();
        assert!(
            message.contains(&format!("connection refused by 127.0.0.1:{port}")),
            "{message}"
        );
        assert!(!message.contains("secret-pw"), "{message}");
    }
}
