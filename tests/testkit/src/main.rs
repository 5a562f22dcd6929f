//! `ferry-testkit serve`: runs the GitLab-compatible test server until
//! killed. Its first stdout line is one JSON object with the URL, the seeded
//! user, password and token, the projects, the OAuth applications and the
//! admin URL (and `ca_file` with `--tls`); logs go to stderr.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ferry-testkit",
    version,
    about = "A GitLab-compatible server for Ferry's tests and demos"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve on 127.0.0.1 until killed.
    Serve {
        /// Port (default: one the OS picks).
        #[arg(long)]
        port: Option<u16>,
        /// HTTPS with a certificate from a generated CA (written to DATA/ca.pem).
        #[arg(long)]
        tls: bool,
        /// Where repositories and state live (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Skip the OAuth sign-in and consent pages (as a trusted application).
        #[arg(long)]
        auto_approve: bool,
        /// Lifetime of OAuth access tokens in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 7200)]
        token_lifetime: i64,
        /// Fault switches to start with, as JSON (see /-/testkit/faults).
        #[arg(long, value_name = "JSON")]
        faults: Option<String>,
        /// Also print a short summary for people (URL, user, password, token) to stderr.
        #[arg(long)]
        banner: bool,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TESTKIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let Command::Serve {
        port,
        tls,
        data,
        auto_approve,
        token_lifetime,
        faults,
        banner,
    } = Cli::parse().command;
    let kit = ferry_testkit::Testkit::start(ferry_testkit::Options {
        port,
        tls,
        data,
        auto_approve,
        token_lifetime: Some(token_lifetime),
        ..Default::default()
    })?;
    if let Some(json) = faults {
        kit.kit().faults.set(serde_json::from_str(&json)?);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(kit.info())?)?;
    out.flush()?;
    drop(out);
    tracing::info!(url = kit.url(), "ferry-testkit serving");
    if banner {
        let i = kit.info();
        eprintln!(
            "\n  A local GitLab for trying Ferry is running at {url}\n\n\
             \x20   Sign in as:    {user} / {password}\n\
             \x20   Access token:  {token}\n\
             \x20   Projects:      {projects}\n\
             \x20   OAuth app ID:  {client} (secret {secret})\n",
            url = i.url,
            user = i.user,
            password = i.password,
            token = i.token,
            projects = i.projects.join(", "),
            client = i.oauth.client_id,
            secret = i.oauth.client_secret,
        );
    }
    // Serve until killed.
    loop {
        std::thread::park();
    }
}
