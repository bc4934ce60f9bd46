//! `orrery check` through the real binary: a server file that `orrery server` refuses
//! fails `check server` and the guessing `check config` too, and the explicit forms
//! read the file as the kind they name.

use std::process::{Command, ExitStatus};

fn check(kind: &str, name: &str, text: &str) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("writing a config");
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["check", kind])
        .arg(&path)
        .output()
        .expect("running orrery check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("orrery check {kind} {name}: {}\n{text}", out.status);
    (out.status, text)
}

#[test]
fn a_server_file_the_server_refuses_fails_the_check() {
    let bad = "query: {max_concurrent: 0}\n";
    for kind in ["server", "config"] {
        let (status, text) = check(kind, "server.yml", bad);
        assert!(!status.success(), "check {kind} accepted it: {text}");
        assert!(text.contains("server.yml"), "no file name: {text}");
        assert!(text.contains("query.max_concurrent"), "no setting: {text}");
    }
    // The server itself refuses the same file, with the same words.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("server.yml");
    std::fs::write(&path, bad).expect("writing a config");
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&path)
        .output()
        .expect("running orrery server");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the server started: {err}");
    assert!(err.contains("query.max_concurrent"), "{err}");
    let (status, text) = check("server", "ok.yml", "query: {max_concurrent: 4}\n");
    assert!(status.success(), "a good file was refused: {text}");
    assert!(text.contains("valid server configuration"), "{text}");
}

#[test]
fn explicit_kinds_do_not_guess() {
    let agent = "cluster: c\nserver:\n  url: http://127.0.0.1:9090\nscrape_configs: []\n";
    let (status, text) = check("agent", "agent.yml", agent);
    assert!(status.success(), "{text}");
    assert!(text.contains("valid agent configuration"), "{text}");
    // An agent file is not a server file: unknown keys.
    let (status, text) = check("server", "agent.yml", agent);
    assert!(!status.success(), "{text}");
    assert!(text.contains("cluster"), "{text}");
    // A server file as an agent file lacks the cluster.
    let (status, text) = check("agent", "server.yml", "query: {max_concurrent: 4}\n");
    assert!(!status.success(), "{text}");
}
