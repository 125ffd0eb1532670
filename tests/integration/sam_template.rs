//! The AWS SAM templates, `deploy/aws/template.yaml` (a function per route)
//! and `deploy/aws/template-single.yaml` (one function for all routes):
//! - each is exactly what `gatehouse sam-template` generates from the route
//!   table now, or the test names the command that regenerates it;
//! - read back as CloudFormation reads it (cfn-lint's own YAML decoder),
//!   each route has its function, built from its `[[bin]]` by cargo-lambda,
//!   with an HTTP API event per method at its path, and its log group with
//!   the retention parameter; every variable passed is documented;
//! - the real linters pass offline: `cfn-lint` and `sam validate --lint`
//!   (deploy/aws/requirements.txt, installed by tests/run into
//!   deploy/aws/.venv), and fail on a broken copy, so a passing lint is
//!   not a linter that never ran.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse_app::routes::ROUTES;
use serde_json::Value;

use crate::support::function::{TempDir, finish_within, run_cli};
use crate::support::source_tree::{read, root};

const PER_ROUTE: &str = "deploy/aws/template.yaml";
const SINGLE: &str = "deploy/aws/template-single.yaml";
const REGENERATE: &str = "cargo run -q -p gatehouse-cli -- sam-template --write";
const FIX: &str = "run tests/run (it installs them), or by hand: python3 -m venv deploy/aws/.venv && deploy/aws/.venv/bin/pip install -r deploy/aws/requirements.txt";
/// cfn-lint's first run loads its schemas: seconds, but a loaded machine
/// may take longer.
const LINT_TIMEOUT: Duration = Duration::from_secs(180);

/// A program of deploy/aws/.venv, failing with the fix when it is missing.
#[track_caller]
fn venv_program(name: &str) -> PathBuf {
    let program = root().join("deploy/aws/.venv/bin").join(name);
    assert!(
        program.is_file(),
        "{} is missing (AWS SAM CLI and cfn-lint, pinned in deploy/aws/requirements.txt): {FIX}",
        program.display()
    );
    program
}

struct Ran {
    ok: bool,
    stdout: String,
    /// stdout and stderr.
    output: String,
}

/// Runs a venv program offline: no AWS credentials or profile, a dummy
/// region (SAM CLI asks for one, and calls nothing with it), SAM's
/// telemetry off and its weekly version check already done (it would call
/// pypi.org), a private HOME so no ~/.aws file is read.
fn run_offline(program: &Path, args: &[&str], home: &Path) -> Ran {
    let sam_dir = home.join("sam-cli");
    std::fs::create_dir_all(&sam_dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(
        sam_dir.join("metadata.json"),
        format!(r#"{{"telemetryEnabled": false, "lastVersionCheck": {now}}}"#),
    )
    .unwrap();
    let child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("SAM_CLI_TELEMETRY", "0")
        .env("__SAM_CLI_APP_DIR", &sam_dir)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{}: {err}; {FIX}", program.display()));
    let finished = finish_within(child, None, LINT_TIMEOUT);
    let output = format!("{}{}", finished.stdout, finished.stderr);
    assert!(
        finished.status.is_some(),
        "{} {args:?} did not finish within {LINT_TIMEOUT:?}:\n{output}",
        program.display()
    );
    Ran {
        ok: finished.status.is_some_and(|status| status.success()),
        stdout: finished.stdout,
        output,
    }
}

/// The committed template as CloudFormation reads it, through cfn-lint's
/// decoder (intrinsic functions as `{"Ref": ..}` objects).
fn decoded(file: &str) -> Value {
    let python = venv_program("python");
    let script = "import json, sys, cfnlint.decode\n\
                  template, problems = cfnlint.decode.decode(sys.argv[1])\n\
                  assert not problems, problems\n\
                  print(json.dumps(template))\n";
    let home = TempDir::new();
    let path = root().join(file);
    let ran = run_offline(
        &python,
        &["-c", script, &path.to_string_lossy()],
        home.path(),
    );
    assert!(ran.ok, "cfn-lint could not decode {file}:\n{}", ran.output);
    serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|err| panic!("{file} decoded to no JSON ({err}): {}", ran.output))
}

#[test]
fn committed_templates_are_what_the_cli_generates_from_the_route_table() {
    for (file, args) in [
        (PER_ROUTE, &["sam-template"][..]),
        (SINGLE, &["sam-template", "--single"][..]),
    ] {
        let generated = run_cli(args, &[], "");
        assert!(
            generated.status.success(),
            "gatehouse {args:?}: {}",
            String::from_utf8_lossy(&generated.stderr)
        );
        let generated = String::from_utf8(generated.stdout).expect("UTF-8");
        let committed = read(&root().join(file));
        if committed != generated {
            let (line, (want, got)) = generated
                .lines()
                .chain(std::iter::repeat(""))
                .zip(committed.lines().chain(std::iter::repeat("")))
                .enumerate()
                .find(|(_, (want, got))| want != got)
                .unwrap_or((0, ("", "")));
            panic!(
                "{file} is not what `gatehouse {}` generates from the route table (line {}: expected {want:?}, found {got:?}).\n  fix: {REGENERATE}",
                args.join(" "),
                line + 1
            );
        }
    }
}

#[test]
fn write_puts_both_templates_in_the_project_and_reports_what_changed() {
    let project = TempDir::new();
    std::fs::create_dir_all(project.path().join("deploy/aws")).unwrap();
    std::fs::write(project.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::write(project.path().join(SINGLE), "stale\n").unwrap();
    let dir = project.path().to_string_lossy().into_owned();
    let first = run_cli(&["sam-template", "--write", "--root", &dir], &[], "");
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        format!("wrote      {PER_ROUTE}\nwrote      {SINGLE}\n")
    );
    for file in [PER_ROUTE, SINGLE] {
        assert_eq!(
            read(&project.path().join(file)),
            read(&root().join(file)),
            "{file}"
        );
    }
    let again = run_cli(&["sam-template", "--write", "--root", &dir], &[], "");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        format!("unchanged  {PER_ROUTE}\nunchanged  {SINGLE}\n")
    );
    // Not a project: nothing written, the fix named.
    let elsewhere = TempDir::new();
    let refused = run_cli(
        &[
            "sam-template",
            "--write",
            "--root",
            &elsewhere.path().to_string_lossy(),
        ],
        &[],
        "",
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("fix: pass the folder of the project's root Cargo.toml"),
        "{refused:?}"
    );
}

/// The `[[bin]]` names of the root Cargo.toml.
fn cargo_bins() -> BTreeSet<String> {
    read(&root().join("Cargo.toml"))
        .split("[[bin]]")
        .skip(1)
        .filter_map(|table| {
            table.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
            })
        })
        .collect()
}

/// A function's `(method, path)` HTTP API events.
fn events(function: &Value) -> BTreeSet<(String, String)> {
    function["Properties"]["Events"]
        .as_object()
        .expect("Events")
        .values()
        .map(|event| {
            assert_eq!(event["Type"], "HttpApi", "{event}");
            let properties = &event["Properties"];
            (
                properties["Method"].as_str().expect("Method").to_owned(),
                properties["Path"].as_str().expect("Path").to_owned(),
            )
        })
        .collect()
}

/// The log group a function logs to, with the retention parameter.
#[track_caller]
fn assert_log_group(resources: &Value, name: &str, function: &Value) {
    let group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: no LoggingConfig.LogGroup Ref: {function}"));
    let group = &resources[group];
    assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{name}: {group}");
    assert_eq!(
        group["Properties"]["RetentionInDays"]["Ref"], "LogRetentionInDays",
        "{name}: {group}"
    );
}

/// What every function of both templates shares: the runtime, arm64 by
/// default, cargo-lambda, the environment.
#[track_caller]
fn assert_globals(template: &Value, file: &str) {
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023", "{file}");
    assert_eq!(globals["Handler"], "bootstrap", "{file}");
    assert_eq!(
        globals["Architectures"],
        serde_json::json!([{ "Ref": "Architecture" }]),
        "{file}"
    );
    let architecture = &template["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "arm64", "{file}");
    assert_eq!(
        architecture["AllowedValues"],
        serde_json::json!(["arm64", "x86_64"]),
        "{file}"
    );
    // The code is the project's root, seen from deploy/aws/.
    let code = Path::new(file)
        .parent()
        .unwrap()
        .join(globals["CodeUri"].as_str().expect("CodeUri"));
    assert!(
        root().join(&code).join("Cargo.toml").is_file(),
        "{file}: CodeUri {code:?} is not the project's root"
    );
}

#[test]
fn each_route_has_its_function_binary_methods_path_and_log_group() {
    let template = decoded(PER_ROUTE);
    assert_globals(&template, PER_ROUTE);
    let bins = cargo_bins();
    let resources = &template["Resources"];
    let functions: BTreeMap<&str, &Value> = resources
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(name, resource)| (name.as_str(), resource))
        .collect();
    assert_eq!(
        functions.len(),
        ROUTES.len(),
        "{PER_ROUTE}: one function per route, {} routes: {:?}",
        ROUTES.len(),
        functions.keys()
    );
    for route in ROUTES {
        let binary = route.binary_name();
        let (name, function) = functions
            .iter()
            .find(|(_, function)| function["Metadata"]["BuildProperties"]["Binary"] == *binary)
            .unwrap_or_else(|| {
                panic!(
                    "{PER_ROUTE}: no function builds {binary} (serving {})",
                    route.pattern
                )
            });
        assert!(bins.contains(&binary), "Cargo.toml has no [[bin]] {binary}");
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        // `[id]` as API Gateway writes a path parameter; every method, so
        // the function answers one it does not serve with its own 405.
        let path = route.pattern.replace('[', "{").replace(']', "}");
        let expected = BTreeSet::from([("ANY".to_owned(), path)]);
        assert_eq!(events(function), expected, "{name} ({})", route.pattern);
        assert_log_group(resources, name, function);
    }
}

#[test]
fn the_single_function_serves_every_path_under_api() {
    let template = decoded(SINGLE);
    assert_globals(&template, SINGLE);
    let resources = &template["Resources"];
    let functions: Vec<(&String, &Value)> = resources
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .collect();
    assert_eq!(functions.len(), 1, "{SINGLE}: {functions:?}");
    let (name, function) = functions[0];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"], "all-routes",
        "{name}"
    );
    assert!(cargo_bins().contains("all-routes"));
    assert_eq!(
        events(function),
        BTreeSet::from([("ANY".to_owned(), "/api/{proxy+}".to_owned())]),
        "{name}"
    );
    assert_log_group(resources, name, function);
}

#[test]
fn every_variable_the_templates_pass_is_documented_and_secrets_are_references() {
    let documented = read(&root().join("docs/configuration.md"));
    for file in [PER_ROUTE, SINGLE] {
        let template = decoded(file);
        let variables = template["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .expect("Globals.Function.Environment.Variables");
        assert!(variables.len() >= 8, "{file}: {variables:?}");
        for (name, value) in variables {
            assert!(
                documented.contains(&format!("| `{name}` |")),
                "{file} passes {name}, which docs/configuration.md does not document"
            );
            // A secret never sits in the template or a parameter: it is a
            // Secrets Manager reference resolved at deploy time.
            if [
                "DATABASE_URL",
                "BETTER_AUTH_SECRET",
                "JWT_SECRET",
                "AUTH_SECRET",
            ]
            .contains(&name.as_str())
            {
                let reference = value["Fn::If"][1]["Fn::Sub"].as_str().unwrap_or_default();
                assert!(
                    reference.starts_with("{{resolve:secretsmanager:${"),
                    "{file}: {name} is not a Secrets Manager reference: {value}"
                );
                assert_eq!(value["Fn::If"][2]["Ref"], "AWS::NoValue", "{file}: {name}");
            }
        }
    }
}

/// A copy of a committed template with `from` replaced by `to` (once).
fn broken_copy(dir: &Path, file: &str, from: &str, to: &str) -> PathBuf {
    let text = read(&root().join(file));
    assert!(text.contains(from), "{file} has no {from:?} to break");
    let path = dir.join("broken.yaml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn cfn_lint_passes_on_both_templates_and_fails_on_a_broken_one() {
    let cfn_lint = venv_program("cfn-lint");
    let home = TempDir::new();
    let ran = run_offline(&cfn_lint, &[PER_ROUTE, SINGLE], home.path());
    assert!(
        ran.ok && ran.output.trim().is_empty(),
        "cfn-lint found problems:\n{}",
        ran.output
    );
    for (from, to, rule) in [
        ("- !Ref Architecture", "- !Ref Architectur", "E1020"),
        ("LoggingConfig:", "LogConfig:", "E3002"),
    ] {
        let broken = broken_copy(home.path(), PER_ROUTE, from, to);
        let ran = run_offline(&cfn_lint, &[&broken.to_string_lossy()], home.path());
        assert!(
            !ran.ok && ran.output.contains(rule),
            "cfn-lint missed {from:?} → {to:?} (expected {rule}):\n{}",
            ran.output
        );
    }
}

#[test]
fn sam_validate_lint_passes_offline_on_both_templates() {
    let sam = venv_program("sam");
    let home = TempDir::new();
    for file in [PER_ROUTE, SINGLE] {
        // --lint is cfn-lint again; without it, the SAM translator itself
        // turns the template into CloudFormation.
        for lint in [true, false] {
            let mut args = vec!["validate", "-t", file];
            if lint {
                args.push("--lint");
            }
            let ran = run_offline(&sam, &args, home.path());
            assert!(
                ran.ok && ran.output.contains("is a valid SAM Template"),
                "sam {}:\n{}",
                args.join(" "),
                ran.output
            );
        }
    }
    let broken = broken_copy(home.path(), SINGLE, "LoggingConfig:", "LogConfig:");
    let ran = run_offline(
        &sam,
        &["validate", "--lint", "-t", &broken.to_string_lossy()],
        home.path(),
    );
    assert!(
        !ran.ok && ran.output.contains("E3002"),
        "sam validate --lint passed a broken template:\n{}",
        ran.output
    );
}
