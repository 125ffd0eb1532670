//! `gatehouse sam-template`: the AWS SAM templates of `deploy/aws/`, generated
//! from the route table, so a route added to `ROUTES` reaches Lambda at its
//! path and no hand-kept list can drift from it. Each route takes every
//! method (`ANY`): the function, not API Gateway, refuses the ones it does
//! not serve, with 405 and `Allow`.
//!
//! Two layouts, the same parameters: a function per route
//! (`template.yaml`, each route's own binary, as Vercel deploys them) or one
//! function for all routes (`template-single.yaml`, the `all-routes` binary
//! behind one proxy route). Every function runs `provided.al2023` on
//! `arm64` by default, is built by `sam build` through cargo-lambda
//! (`BuildMethod: rust-cargolambda`), logs to its own log group with a set
//! retention, and gets the configuration as environment variables:
//! non-secret values as plain parameters, secrets as Secrets Manager
//! dynamic references that CloudFormation resolves at deploy time.
//! `tests/integration/sam_template.rs` fails while a committed file differs
//! from what this prints, and runs `cfn-lint` and `sam validate --lint` on
//! both.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gatehouse::route::Route;
use http::Method;

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `deploy/aws/template.yaml`: a function per route.
    PerRoute,
    /// `deploy/aws/template-single.yaml`: one function for all routes.
    Single,
}

impl Layout {
    /// Where the template is committed, from the project's root.
    pub fn file(self) -> &'static str {
        match self {
            Layout::PerRoute => "deploy/aws/template.yaml",
            Layout::Single => "deploy/aws/template-single.yaml",
        }
    }
}

/// The `[[bin]]` serving every route (`lambda/all-routes.rs`).
const ALL_ROUTES_BINARY: &str = "all-routes";

/// How a variable gets its value.
#[derive(Debug)]
enum Source {
    /// A parameter with this default, from these values only (any when
    /// empty); always set.
    Value {
        default: &'static str,
        allowed: &'static [&'static str],
    },
    /// A parameter, empty by default; empty leaves the variable unset.
    Optional,
    /// A Secrets Manager secret id parameter (the id, not the secret: it
    /// is shown, so `sam deploy --guided` can save it), empty by default; the
    /// variable holds the secret's value, resolved at deploy time.
    Secret,
}

/// One environment variable every function gets.
#[derive(Debug)]
struct Variable {
    name: &'static str,
    parameter: &'static str,
    source: Source,
    description: &'static str,
}

/// The variables the template passes: what most deployments set
/// (docs/configuration.md has them all). Another variable is another row
/// here, then `gatehouse sam-template --write`.
const VARIABLES: &[Variable] = &[
    Variable {
        name: "ENVIRONMENT",
        parameter: "Environment",
        source: Source::Value {
            default: "production",
            allowed: &["production", "preview", "development"],
        },
        description: "ENVIRONMENT: production hides names and expected values from responses.",
    },
    Variable {
        name: "LOG_LEVEL",
        parameter: "LogLevel",
        source: Source::Value {
            default: "info",
            allowed: &[],
        },
        description: "LOG_LEVEL: a level or a target list such as info,gatehouse=debug.",
    },
    Variable {
        name: "DATABASE_POOL_MAX",
        parameter: "DatabasePoolMax",
        source: Source::Value {
            default: "2",
            allowed: &[],
        },
        description: "DATABASE_POOL_MAX: connections per instance; classic Lambda sends one event at a time, so keep it at 1 or 2.",
    },
    Variable {
        name: "CORS_ORIGINS",
        parameter: "CorsOrigins",
        source: Source::Optional,
        description: "CORS_ORIGINS: browser origins allowed to call with credentials, comma-separated; empty for none.",
    },
    Variable {
        name: "BETTER_AUTH_URL",
        parameter: "BetterAuthUrl",
        source: Source::Optional,
        description: "BETTER_AUTH_URL: Better Auth's base URL (trusts its jwt plugin's JWKS); empty for none.",
    },
    Variable {
        name: "JWT_JWKS_URL",
        parameter: "JwtJwksUrl",
        source: Source::Optional,
        description: "JWT_JWKS_URL: another identity provider's JWKS (with JwtIssuer and JwtAudience); empty for none.",
    },
    Variable {
        name: "JWT_ISSUER",
        parameter: "JwtIssuer",
        source: Source::Optional,
        description: "JWT_ISSUER: accepted iss values, comma-separated; empty for none.",
    },
    Variable {
        name: "JWT_AUDIENCE",
        parameter: "JwtAudience",
        source: Source::Optional,
        description: "JWT_AUDIENCE: accepted aud values, comma-separated; empty for none.",
    },
    Variable {
        name: "BETTER_AUTH_COOKIE_CACHE",
        parameter: "BetterAuthCookieCache",
        source: Source::Optional,
        description: "BETTER_AUTH_COOKIE_CACHE: compact, jwt or jwe, as Better Auth's session.cookieCache.strategy, to read its session_data cookie; empty for off.",
    },
    Variable {
        name: "CLERK_PUBLISHABLE_KEY",
        parameter: "ClerkPublishableKey",
        source: Source::Optional,
        description: "CLERK_PUBLISHABLE_KEY: the Clerk preset (issuer and JWKS from the key); empty for none.",
    },
    Variable {
        name: "CLERK_JWT_KEY",
        parameter: "ClerkJwtKey",
        source: Source::Optional,
        description: "CLERK_JWT_KEY: Clerk's PEM public key, for verification without fetching the JWKS; empty for none.",
    },
    Variable {
        name: "CLERK_AUTHORIZED_PARTIES",
        parameter: "ClerkAuthorizedParties",
        source: Source::Optional,
        description: "CLERK_AUTHORIZED_PARTIES: origins accepted in azp, comma-separated; empty for none.",
    },
    Variable {
        name: "SUPABASE_URL",
        parameter: "SupabaseUrl",
        source: Source::Optional,
        description: "SUPABASE_URL: the Supabase preset (https://<ref>.supabase.co); empty for none.",
    },
    Variable {
        name: "AUTH0_DOMAIN",
        parameter: "Auth0Domain",
        source: Source::Optional,
        description: "AUTH0_DOMAIN: the Auth0 preset (tenant or custom domain, without https://); empty for none.",
    },
    Variable {
        name: "AUTH0_AUDIENCE",
        parameter: "Auth0Audience",
        source: Source::Optional,
        description: "AUTH0_AUDIENCE: the Auth0 API identifier tokens must carry in aud; empty for none.",
    },
    Variable {
        name: "COGNITO_USER_POOL_ID",
        parameter: "CognitoUserPoolId",
        source: Source::Optional,
        description: "COGNITO_USER_POOL_ID: the Cognito preset (<region>_<id>); empty for none.",
    },
    Variable {
        name: "COGNITO_CLIENT_ID",
        parameter: "CognitoClientId",
        source: Source::Optional,
        description: "COGNITO_CLIENT_ID: the app client ids accepted, comma-separated; empty for none.",
    },
    Variable {
        name: "COGNITO_TOKEN_USE",
        parameter: "CognitoTokenUse",
        source: Source::Optional,
        description: "COGNITO_TOKEN_USE: access or id; empty for access.",
    },
    Variable {
        name: "FIREBASE_PROJECT_ID",
        parameter: "FirebaseProjectId",
        source: Source::Optional,
        description: "FIREBASE_PROJECT_ID: the Firebase Auth preset; empty for none.",
    },
    Variable {
        name: "SUPABASE_JWT_SECRET",
        parameter: "SupabaseJwtSecretId",
        source: Source::Secret,
        description: "The Secrets Manager secret (as DatabaseUrlSecretId) whose value is SUPABASE_JWT_SECRET (Supabase's legacy HS256 secret); empty leaves it unset.",
    },
    Variable {
        name: "DATABASE_URL",
        parameter: "DatabaseUrlSecretId",
        source: Source::Secret,
        description: "The Secrets Manager secret (name or ARN; NAME:SecretString:KEY for one key of a JSON secret) whose value is DATABASE_URL; empty leaves it unset.",
    },
    Variable {
        name: "BETTER_AUTH_SECRET",
        parameter: "BetterAuthSecretId",
        source: Source::Secret,
        description: "The Secrets Manager secret (as DatabaseUrlSecretId) whose value is BETTER_AUTH_SECRET; empty leaves it unset.",
    },
    Variable {
        name: "JWT_SECRET",
        parameter: "JwtSecretId",
        source: Source::Secret,
        description: "The Secrets Manager secret (as DatabaseUrlSecretId) whose value is JWT_SECRET; empty leaves it unset.",
    },
    Variable {
        name: "AUTH_SECRET",
        parameter: "AuthSecretId",
        source: Source::Secret,
        description: "The Secrets Manager secret (as DatabaseUrlSecretId) whose value is AUTH_SECRET (Auth.js); empty leaves it unset.",
    },
];

/// The retention values CloudWatch Logs accepts, in days.
const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// `gatehouse sam-template [--single] [--write [--root DIR]]`.
pub fn run(single: bool, write: bool, root: Option<&Path>, routes: &[&Route]) -> ExitCode {
    if !write {
        let layout = if single {
            Layout::Single
        } else {
            Layout::PerRoute
        };
        print!("{}", render(routes, layout));
        return ExitCode::SUCCESS;
    }
    let root = match project_root(root) {
        Ok(root) => root,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            return ExitCode::FAILURE;
        }
    };
    for layout in [Layout::PerRoute, Layout::Single] {
        let path = root.join(layout.file());
        let text = render(routes, layout);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
        if unchanged {
            println!("unchanged  {}", layout.file());
            continue;
        }
        if let Err(err) = std::fs::write(&path, text) {
            eprintln!(
                "gatehouse: could not write {}: {err}\n  fix: make the file writable, or print the template (without --write) and save it yourself",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        println!("wrote      {}", layout.file());
    }
    ExitCode::SUCCESS
}

/// `--root`, or the nearest folder from the current one up that holds
/// `Cargo.toml` and `deploy/aws/`.
fn project_root(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let is_project =
        |dir: &Path| dir.join("Cargo.toml").is_file() && dir.join("deploy/aws").is_dir();
    if let Some(root) = explicit {
        return if is_project(root) {
            Ok(root.to_owned())
        } else {
            Err(format!(
                "--root {} has no Cargo.toml and deploy/aws/\n  fix: pass the folder of the project's root Cargo.toml",
                root.display()
            ))
        };
    }
    let current = std::env::current_dir().map_err(|err| {
        format!("the current folder cannot be read: {err}\n  fix: pass --root DIR")
    })?;
    current
        .ancestors()
        .find(|dir| is_project(dir))
        .map(Path::to_owned)
        .ok_or_else(|| {
            format!(
                "no folder from {} up holds Cargo.toml and deploy/aws/\n  fix: run it inside the project, or pass --root DIR",
                current.display()
            )
        })
}

/// The template, as committed.
pub fn render(routes: &[&Route], layout: Layout) -> String {
    let mut out = String::new();
    header(&mut out, layout);
    parameters(&mut out);
    conditions(&mut out);
    globals(&mut out);
    out.push_str("\nResources:\n");
    match layout {
        Layout::PerRoute => {
            for route in routes {
                // `ANY`: API Gateway would answer a method the route does
                // not list with its own bare 404; the function answers it
                // with 405 and `Allow`, as on Vercel and in `gatehouse dev`.
                let events = [(
                    "Any".to_owned(),
                    api_gateway_path(route.pattern),
                    "ANY".to_owned(),
                )];
                let description = format!(
                    "{} {} ({})",
                    route
                        .methods
                        .iter()
                        .map(Method::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    route.pattern,
                    route.source_file()
                );
                function(&mut out, &route.binary_name(), &description, &events);
            }
        }
        Layout::Single => {
            let description = format!(
                "Every route of the route table ({} routes, lambda/all-routes.rs)",
                routes.len()
            );
            let events = vec![(
                "Api".to_owned(),
                "/api/{proxy+}".to_owned(),
                "ANY".to_owned(),
            )];
            function(&mut out, ALL_ROUTES_BINARY, &description, &events);
        }
    }
    out.push_str(
        "\nOutputs:\n  ApiUrl:\n    Description: \"The HTTP API's URL; the routes are under /api/.\"\n    Value: !Sub \"https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}\"\n",
    );
    out
}

fn header(out: &mut String, layout: Layout) {
    let (what, other) = match layout {
        Layout::PerRoute => (
            "one Lambda function per route",
            "template-single.yaml: one function for all routes",
        ),
        Layout::Single => (
            "one Lambda function for all routes",
            "template.yaml: a function per route",
        ),
    };
    let _ = write!(
        out,
        "# Gatehouse on AWS Lambda: {what}, behind an API Gateway\n\
         # HTTP API ({other}).\n\
         # Generated from the route table by `gatehouse sam-template`: do not edit\n\
         # by hand; after changing a route or the variables, run\n\
         #   cargo run -q -p gatehouse-cli -- sam-template --write\n\
         # tests/integration/sam_template.rs fails while this file is stale, and\n\
         # runs cfn-lint and `sam validate --lint` on it.\n\
         #\n\
         # From the project's root (sam and cargo-lambda: pip install -r\n\
         # deploy/aws/requirements.txt -r deploy/requirements.txt):\n\
         #   sam build -t {file} && sam deploy --guided\n\
         # Parameters, secrets and logs: docs/deploying.md (\"AWS Lambda with SAM\").\n\
         AWSTemplateFormatVersion: \"2010-09-09\"\n\
         Transform: AWS::Serverless-2016-10-31\n\
         Description: \"Gatehouse, {what} behind an HTTP API (generated by gatehouse sam-template)\"\n",
        file = layout.file(),
    );
}

fn parameters(out: &mut String) {
    out.push_str(
        "\nParameters:\n\
         \x20 Architecture:\n\
         \x20   Type: String\n\
         \x20   Default: arm64\n\
         \x20   AllowedValues: [arm64, x86_64]\n\
         \x20   Description: \"The functions' instruction set; arm64 (Graviton) costs less per millisecond. sam build passes --arm64 to cargo-lambda for it.\"\n\
         \x20 MemorySize:\n\
         \x20   Type: Number\n\
         \x20   Default: 256\n\
         \x20   MinValue: 128\n\
         \x20   MaxValue: 10240\n\
         \x20   Description: \"Memory of each function in MB; CPU grows with it.\"\n\
         \x20 Timeout:\n\
         \x20   Type: Number\n\
         \x20   Default: 10\n\
         \x20   MinValue: 1\n\
         \x20   MaxValue: 29\n\
         \x20   Description: \"Seconds a request may run; API Gateway's HTTP API gives up after 30.\"\n\
         \x20 LogRetentionInDays:\n\
         \x20   Type: Number\n\
         \x20   Default: 30\n",
    );
    let days: Vec<String> = RETENTION_DAYS.iter().map(u32::to_string).collect();
    let _ = writeln!(out, "    AllowedValues: [{}]", days.join(", "));
    out.push_str("    Description: \"How long CloudWatch Logs keeps each function's log.\"\n");
    for variable in VARIABLES {
        let _ = writeln!(out, "  {}:", variable.parameter);
        out.push_str("    Type: String\n");
        match variable.source {
            Source::Value { default, allowed } => {
                let _ = writeln!(out, "    Default: \"{default}\"");
                if !allowed.is_empty() {
                    let _ = writeln!(out, "    AllowedValues: [{}]", allowed.join(", "));
                }
            }
            Source::Optional => out.push_str("    Default: \"\"\n"),
            Source::Secret => out.push_str("    Default: \"\"\n"),
        }
        let _ = writeln!(out, "    Description: \"{}\"", variable.description);
    }
}

/// `Has<Parameter>` for each variable that may be left unset.
fn conditions(out: &mut String) {
    out.push_str("\nConditions:\n");
    for variable in VARIABLES {
        if matches!(variable.source, Source::Optional | Source::Secret) {
            let _ = writeln!(
                out,
                "  Has{0}: !Not [!Equals [!Ref {0}, \"\"]]",
                variable.parameter
            );
        }
    }
}

fn globals(out: &mut String) {
    out.push_str(
        "\nGlobals:\n\
         \x20 Function:\n\
         \x20   Runtime: provided.al2023\n\
         \x20   Handler: bootstrap\n\
         \x20   CodeUri: ../..\n\
         \x20   Architectures:\n\
         \x20     - !Ref Architecture\n\
         \x20   MemorySize: !Ref MemorySize\n\
         \x20   Timeout: !Ref Timeout\n\
         \x20   Environment:\n\
         \x20     Variables:\n",
    );
    for variable in VARIABLES {
        let value = match variable.source {
            Source::Value { .. } => format!("!Ref {}", variable.parameter),
            Source::Optional => format!(
                "!If [Has{0}, !Ref {0}, !Ref AWS::NoValue]",
                variable.parameter
            ),
            Source::Secret => format!(
                "!If [Has{0}, !Sub \"{{{{resolve:secretsmanager:${{{0}}}}}}}\", !Ref AWS::NoValue]",
                variable.parameter
            ),
        };
        let _ = writeln!(out, "        {}: {value}", variable.name);
    }
}

/// A function, its HTTP API events and its log group.
fn function(
    out: &mut String,
    binary: &str,
    description: &str,
    events: &[(String, String, String)],
) {
    let id = pascal_case(binary);
    let _ = write!(
        out,
        "  {id}Function:\n\
         \x20   Type: AWS::Serverless::Function\n\
         \x20   Metadata:\n\
         \x20     BuildMethod: rust-cargolambda\n\
         \x20     BuildProperties:\n\
         \x20       Binary: {binary}\n\
         \x20   Properties:\n\
         \x20     Description: \"{description}\"\n\
         \x20     LoggingConfig:\n\
         \x20       LogGroup: !Ref {id}LogGroup\n\
         \x20     Events:\n"
    );
    for (name, path, method) in events {
        let _ = write!(
            out,
            "        {name}:\n\
             \x20         Type: HttpApi\n\
             \x20         Properties:\n\
             \x20           Path: {path}\n\
             \x20           Method: {method}\n"
        );
    }
    let _ = write!(
        out,
        "  {id}LogGroup:\n\
         \x20   Type: AWS::Logs::LogGroup\n\
         \x20   Properties:\n\
         \x20     LogGroupName: !Sub \"/aws/lambda/${{AWS::StackName}}-{binary}\"\n\
         \x20     RetentionInDays: !Ref LogRetentionInDays\n"
    );
}

/// A route pattern as an API Gateway path: `[id]` becomes `{id}`.
pub fn api_gateway_path(pattern: &str) -> String {
    pattern.replace('[', "{").replace(']', "}")
}

/// `tasks-id` as `TasksId`, for logical ids (letters and digits only).
fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_follow_the_route() {
        assert_eq!(pascal_case("tasks-id"), "TasksId");
        assert_eq!(pascal_case("auth-token-health"), "AuthTokenHealth");
        assert_eq!(pascal_case("get"), "Get");
        assert_eq!(api_gateway_path("/api/tasks/[id]"), "/api/tasks/{id}");
    }

    #[test]
    fn secrets_are_resolved_references_and_optional_values_can_be_unset() {
        let text = render(&[], Layout::Single);
        assert!(
            text.contains("DATABASE_URL: !If [HasDatabaseUrlSecretId, !Sub \"{{resolve:secretsmanager:${DatabaseUrlSecretId}}}\", !Ref AWS::NoValue]"),
            "{text}"
        );
        assert!(
            text.contains(
                "CORS_ORIGINS: !If [HasCorsOrigins, !Ref CorsOrigins, !Ref AWS::NoValue]"
            ),
            "{text}"
        );
        assert!(text.contains("ENVIRONMENT: !Ref Environment"), "{text}");
    }
}
