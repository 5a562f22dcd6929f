//! Repositories on disk and git's smart HTTP protocol, served by running the
//! real `git http-backend` as a CGI program for each request.
//!
//! Every bare repository gets a `pre-receive` hook that enforces protected
//! branches the way GitLab's checks do (the refusal reaches the client as
//! `remote: GitLab: ...` and `pre-receive hook declined`), checks pushed
//! objects with `receive.fsckObjects` as Gitaly does, and keeps a reflog of
//! every ref update so tests can check that history only moved forward.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use futures_util::TryStreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The pre-receive hook. The server passes, per push:
/// `TESTKIT_PROTECTED` — space-separated branches the pusher may not push to;
/// `TESTKIT_NO_FORCE` — space-separated protected branches that refuse force pushes.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# ferry-testkit: GitLab's protected-branch checks.
zero=0000000000000000000000000000000000000000
while read old new ref; do
  branch=${ref#refs/heads/}
  for p in $TESTKIT_PROTECTED; do
    if [ "$branch" = "$p" ]; then
      echo "GitLab: You are not allowed to push code to protected branches on this project." >&2
      exit 1
    fi
  done
  for p in $TESTKIT_NO_FORCE; do
    if [ "$branch" = "$p" ] && [ "$old" != "$zero" ] && [ "$new" != "$zero" ]; then
      if ! git merge-base --is-ancestor "$old" "$new"; then
        echo "GitLab: You are not allowed to force push code to a protected branch on this project." >&2
        exit 1
      fi
    fi
  done
done
exit 0
"#;

/// Runs git with `args` in `dir`, failing with its stderr.
pub fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .with_context(|| format!("running git {args:?}"))?;
    if !out.status.success() {
        bail!(
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Creates an empty bare repository with the testkit's hook, if missing.
pub fn ensure_bare(dir: &Path, default_branch: &str) -> anyhow::Result<()> {
    if dir.join("HEAD").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    git(
        dir,
        &[
            "init",
            "--bare",
            "--quiet",
            &format!("--initial-branch={default_branch}"),
        ],
    )?;
    git(dir, &["config", "core.logAllRefUpdates", "always"])?;
    git(dir, &["config", "receive.denyNonFastForwards", "false"])?;
    git(dir, &["config", "http.receivepack", "true"])?;
    // GitLab checks every pushed object (Gitaly's receive-pack runs with
    // `transfer.fsckObjects=true` and ignores only three cosmetic checks), so a
    // push the testkit accepts is one GitLab would accept too.
    git(dir, &["config", "receive.fsckObjects", "true"])?;
    for cosmetic in [
        "badTimezone",
        "missingSpaceBeforeDate",
        "zeroPaddedFilemode",
    ] {
        git(
            dir,
            &["config", &format!("receive.fsck.{cosmetic}"), "ignore"],
        )?;
    }
    let hook = dir.join("hooks/pre-receive");
    std::fs::write(&hook, PRE_RECEIVE)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Commits `files` (path, bytes) as the first commit of the bare repository `dir`.
pub fn seed(
    dir: &Path,
    branch: &str,
    author: (&str, &str),
    message: &str,
    files: &[(&str, &[u8])],
) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let w = work.path();
    git(
        w,
        &["init", "--quiet", &format!("--initial-branch={branch}")],
    )?;
    for (path, bytes) in files {
        let target = w.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, bytes)?;
    }
    git(w, &["add", "--all"])?;
    let name = format!("user.name={}", author.0);
    let email = format!("user.email={}", author.1);
    git(
        w,
        &[
            "-c", &name, "-c", &email, "commit", "--quiet", "-m", message,
        ],
    )?;
    let dest = dir.to_string_lossy().into_owned();
    git(
        w,
        &[
            "push",
            "--quiet",
            &dest,
            &format!("HEAD:refs/heads/{branch}"),
        ],
    )?;
    Ok(())
}

/// The newest commit of `branch`, as GitLab's branch API describes it.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
pub struct CommitInfo {
    pub id: String,
    pub parent_ids: Vec<String>,
    pub title: String,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    pub authored_date: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committed_date: String,
}

/// Reads the tip commit of `branch`, or `None` when the branch does not exist.
pub fn branch_tip(dir: &Path, branch: &str) -> Option<CommitInfo> {
    if !dir.join("HEAD").exists() {
        return None;
    }
    let refname = format!("refs/heads/{branch}");
    git(dir, &["rev-parse", "--verify", "--quiet", &refname]).ok()?;
    let out = git(
        dir,
        &[
            "log",
            "-1",
            "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
            &refname,
        ],
    )
    .ok()?;
    let mut f = out.splitn(9, '\0');
    let mut next = || f.next().unwrap_or_default().to_string();
    let id = next();
    let parents = next();
    let (author_name, author_email, authored_date) = (next(), next(), next());
    let (committer_name, committer_email, committed_date) = (next(), next(), next());
    let message = next().trim_end().to_string() + "\n";
    Some(CommitInfo {
        id,
        parent_ids: parents.split_whitespace().map(str::to_string).collect(),
        title: message.lines().next().unwrap_or_default().to_string(),
        message,
        author_name,
        author_email,
        authored_date,
        committer_name,
        committer_email,
        committed_date,
    })
}

/// True when the repository has no commits at all.
pub fn is_empty(dir: &Path) -> bool {
    git(dir, &["for-each-ref", "--count=1", "refs/heads"])
        .map(|s| s.trim().is_empty())
        .unwrap_or(true)
}

/// `git http-backend`, from the `git` on PATH (Debian: /usr/lib/git-core).
pub fn http_backend_path() -> PathBuf {
    let exec_path = std::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/lib/git-core".into());
    Path::new(&exec_path).join("git-http-backend")
}

/// One request for the CGI.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
pub struct CgiRequest {
    pub project_root: PathBuf,
    /// `/namespace/project.git/info/refs` and the like.
    pub path_info: String,
    pub method: String,
    pub query: String,
    pub headers: HeaderMap,
    pub remote_user: String,
    /// Extra environment for hooks (protected branches).
    pub env: Vec<(String, String)>,
}

/// Runs `git http-backend` for one request and streams its answer.
pub async fn run_cgi(req: CgiRequest, body: Body) -> anyhow::Result<Response<Body>> {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut cmd = tokio::process::Command::new(http_backend_path());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &req.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", &req.project_root)
        .env("PATH_INFO", &req.path_info)
        .env("REQUEST_METHOD", &req.method)
        .env("QUERY_STRING", &req.query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("REMOTE_USER", &req.remote_user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1");
    let encoding = header("content-encoding");
    if !encoding.is_empty() {
        cmd.env("HTTP_CONTENT_ENCODING", encoding);
    }
    let protocol = header("git-protocol");
    if !protocol.is_empty() {
        cmd.env("GIT_PROTOCOL", protocol);
    }
    let length = header("content-length");
    if !length.is_empty() {
        cmd.env("CONTENT_LENGTH", length);
    }
    for (k, v) in &req.env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().context("starting git http-backend")?;

    // Feed the request body while reading the answer.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let feed = tokio::spawn(async move {
        let mut stream = tokio_util::io::StreamReader::new(
            body.into_data_stream().map_err(std::io::Error::other),
        );
        let _ = tokio::io::copy(&mut stream, &mut stdin).await;
    });
    let stderr = child.stderr.take().expect("piped stderr");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!("git http-backend: {line}");
        }
    });

    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut status = StatusCode::OK;
    let mut response = Response::builder();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).await? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("200");
            status = code.parse().unwrap_or(StatusCode::OK);
        } else if let Ok(v) = HeaderValue::from_str(value) {
            response = response.header(name, v);
        }
    }
    let stream = tokio_util::io::ReaderStream::new(ReadThenWait {
        reader: stdout,
        child: Some(child),
        feed: Some(feed),
    });
    Ok(response.status(status).body(Body::from_stream(stream))?)
}

/// Reads the CGI's output to the end, then reaps the process.
struct ReadThenWait {
    reader: BufReader<tokio::process::ChildStdout>,
    child: Option<tokio::process::Child>,
    feed: Option<tokio::task::JoinHandle<()>>,
}

impl tokio::io::AsyncRead for ReadThenWait {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.reader).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &poll {
            if buf.filled().len() == before {
                // End of output: let the process finish in the background.
                if let Some(mut child) = self.child.take() {
                    tokio::spawn(async move {
                        let _ = child.wait().await;
                    });
                }
                if let Some(feed) = self.feed.take() {
                    feed.abort();
                }
            }
        }
        poll
    }
}
