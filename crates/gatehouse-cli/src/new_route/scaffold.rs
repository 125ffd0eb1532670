//! The text of everything `gatehouse new route` adds, rendered from the
//! templates: the handler module, the route's static, its binary, its test,
//! its OpenAPI path item and its route-table rows.

use super::spec::{Methods, RouteMethod, RouteNeeds, RoutePattern};
use super::template::{files, render};

/// The route being added, with the names derived for it.
#[derive(Debug, Clone)]
pub struct NewRoute {
    pub pattern: RoutePattern,
    pub methods: Methods,
    pub needs: RouteNeeds,
    /// The handler module under `src/routes/`.
    pub module: String,
    /// The app library's crate name (`gatehouse_app`).
    pub library: String,
}

impl NewRoute {
    fn flags(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("auth", self.needs.auth),
            ("database", self.needs.database),
            ("body", self.methods.any_body()),
            ("dispatch", self.methods.len() > 1),
            ("params", !self.pattern.params().is_empty()),
        ]
    }

    /// A request path the pattern matches: `[id]` as `42`, the next
    /// parameter `43`, and so on.
    pub fn sample_path(&self) -> String {
        let mut next = 42;
        self.pattern
            .as_str()
            .split('/')
            .map(|segment| {
                if segment.starts_with('[') {
                    next += 1;
                    (next - 1).to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The sample path's parameters as a JSON object, as Rust writes it in
    /// a `json!`: `{ "id": "42" }`.
    fn sample_params_json(&self) -> String {
        let params = self.pattern.params();
        if params.is_empty() {
            return "{}".to_owned();
        }
        let pairs: Vec<String> = params
            .iter()
            .zip(42..)
            .map(|(name, value)| format!("\"{name}\": \"{value}\""))
            .collect();
        format!("{{ {} }}", pairs.join(", "))
    }

    fn todo(&self, method: RouteMethod) -> String {
        format!(
            "{} {} is not written yet and changed nothing: write it in src/routes/{}.rs",
            method.as_str(),
            self.pattern,
            self.module
        )
    }

    /// `src/routes/<module>.rs`.
    pub fn handler_module(&self) -> Result<String, String> {
        let pattern = self.pattern.as_str();
        let flags = self.flags();
        let mut handlers = String::new();
        for method in self.methods.iter() {
            let (name, template) = match method {
                RouteMethod::Get => ("handler_get.rs.tmpl", files::HANDLER_GET),
                RouteMethod::Delete => ("handler_delete.rs.tmpl", files::HANDLER_DELETE),
                _ => ("handler_with_body.rs.tmpl", files::HANDLER_WITH_BODY),
            };
            let shows = match (self.needs.auth, self.needs.database) {
                (false, false) => "its parameters",
                (true, false) => "its parameters and the caller",
                (false, true) => "its parameters and one database round trip",
                (true, true) => "its parameters, the caller and one database round trip",
            };
            let reads = if self.needs.auth {
                "the caller and the JSON body"
            } else {
                "the JSON body"
            };
            let tag = self.pattern.tag();
            let todo = self.todo(method);
            handlers.push_str(&render(
                name,
                template,
                &[
                    ("PATTERN", pattern),
                    ("METHOD", method.as_str()),
                    ("FN", method.lower()),
                    ("GET_SHOWS", shows),
                    ("BODY_READS", reads),
                    ("TAG", &tag),
                    ("TODO", &todo),
                ],
                &flags,
            )?);
        }
        let dispatch = self.dispatch();
        render(
            "handler.rs.tmpl",
            files::HANDLER,
            &[
                ("PATTERN", pattern),
                ("METHODS", &self.methods.listed()),
                ("STATIC", &self.pattern.static_name()),
                ("API_FILE", &self.pattern.source_file()),
                ("MODULE", &self.module),
                ("DISPATCH", &dispatch),
                ("HANDLERS", &handlers),
            ],
            &flags,
        )
    }

    /// The body of `handle`: one method's handler, or a `match` on the
    /// method whose last arm takes the primary method (and `HEAD`).
    fn dispatch(&self) -> String {
        let primary = self.methods.primary();
        if self.methods.len() == 1 {
            return format!(
                "    Box::pin(async move {{ {}(&ctx).await }})\n",
                primary.lower()
            );
        }
        let mut out =
            String::from("    Box::pin(async move {\n        match *ctx.request.method() {\n");
        for method in self.methods.iter().filter(|method| *method != primary) {
            out.push_str(&format!(
                "            Method::{} => {}(&ctx).await,\n",
                method.as_str(),
                method.lower()
            ));
        }
        out.push_str(&format!(
            "            _ => {}(&ctx).await,\n",
            primary.lower()
        ));
        out.push_str("        }\n    })\n");
        out
    }

    /// The `pub static` block for `src/routes/mod.rs`, with a blank line
    /// after it.
    pub fn route_static(&self) -> Result<String, String> {
        let methods: Vec<String> = self
            .methods
            .iter()
            .map(|method| format!("Method::{}", method.as_str()))
            .collect();
        // On one line while rustfmt keeps it there (its `array_width`).
        let methods = if methods.join(", ").len() <= 60 {
            format!("&[{}]", methods.join(", "))
        } else {
            format!("&[\n        {},\n    ]", methods.join(",\n        "))
        };
        render(
            "route_static.rs.tmpl",
            files::ROUTE_STATIC,
            &[
                ("STATIC", &self.pattern.static_name()),
                ("PATTERN", self.pattern.as_str()),
                ("METHODS", &methods),
                ("NEEDS", self.needs.constant()),
                ("MODULE", &self.module),
            ],
            &[],
        )
    }

    /// `api/<path>.rs`.
    pub fn binary(&self) -> Result<String, String> {
        render(
            "binary.rs.tmpl",
            files::BINARY,
            &[
                ("PATTERN", self.pattern.as_str()),
                ("METHODS", &self.methods.listed()),
                ("MODULE", &self.module),
                ("LIBRARY", &self.library),
                ("STATIC", &self.pattern.static_name()),
            ],
            &[],
        )
    }

    /// `tests/integration/routes/<module>.rs`.
    pub fn test_module(&self) -> Result<String, String> {
        let flags = self.flags();
        let pattern = self.pattern.as_str();
        let params_json = self.sample_params_json();
        let mut checks = String::new();
        for method in self.methods.iter() {
            let (name, template) = match method {
                RouteMethod::Get => ("test_get.rs.tmpl", files::TEST_GET),
                RouteMethod::Delete => ("test_delete.rs.tmpl", files::TEST_DELETE),
                _ => ("test_with_body.rs.tmpl", files::TEST_WITH_BODY),
            };
            checks.push_str(&render(
                name,
                template,
                &[
                    ("PATTERN", pattern),
                    ("METHOD", method.as_str()),
                    ("PARAMS_JSON", &params_json),
                ],
                &flags,
            )?);
        }
        if self.needs.auth {
            checks.push_str(&render(
                "test_refused.rs.tmpl",
                files::TEST_REFUSED,
                &[("METHOD", self.methods.primary().as_str())],
                &flags,
            )?);
        }
        let mut env = Vec::new();
        if self.needs.database {
            env.push("(\"DATABASE_URL\", db.url.as_str())");
        }
        if self.needs.auth {
            env.push("(\"JWT_SECRET\", secret.as_str())");
        }
        let env_type = if env.is_empty() {
            ": [(&str, &str); 0]"
        } else {
            ""
        };
        // On one line while rustfmt keeps it there (its `array_width`).
        let env = if env.join(", ").len() <= 60 {
            env.join(", ")
        } else {
            format!("\n        {},\n    ", env.join(",\n        "))
        };
        let uses_get = self.methods.contains(RouteMethod::Get);
        let uses_send = self.needs.auth || self.methods.iter().any(|m| m != RouteMethod::Get);
        let http_client = match (uses_get, uses_send) {
            (true, true) => "{get, send}",
            (true, false) => "get",
            _ => "send",
        };
        render(
            "test.rs.tmpl",
            files::TEST,
            &[
                ("PATTERN", pattern),
                ("BINARY", &self.pattern.binary_name()),
                ("MODULE", &self.module),
                ("SAMPLE_PATH", &self.sample_path()),
                ("FUNCTION_ENV", &env),
                ("ENV_TYPE", env_type),
                ("HTTP_CLIENT", http_client),
                ("CHECKS", &checks),
            ],
            &flags,
        )
    }

    /// The OpenAPI path item, indented as a member of `paths` (four spaces),
    /// without a trailing newline. `security` is the JSON of an
    /// authenticated operation's `security`.
    pub fn openapi_path_item(&self, security: &str) -> Result<String, String> {
        let mut flags = self.flags();
        let mut parameters = Vec::new();
        for name in self.pattern.params() {
            let parameter = render(
                "openapi_parameter.json.tmpl",
                files::OPENAPI_PARAMETER,
                &[("NAME", name)],
                &flags,
            )?;
            parameters.push(parameter.trim_end().to_owned());
        }
        let mut operations = Vec::new();
        for method in self.methods.iter() {
            flags.retain(|(flag, _)| !matches!(*flag, "get" | "body" | "unavailable"));
            flags.push(("get", method == RouteMethod::Get));
            flags.push(("body", method.takes_body()));
            flags.push(("unavailable", self.needs.auth || self.needs.database));
            let (summary, description, answer) = self.operation_text(method);
            let mut required = vec!["route", "params"];
            if method != RouteMethod::Get {
                required.insert(1, "method");
            }
            if self.needs.auth {
                required.push("subject");
            }
            if method == RouteMethod::Get && self.needs.database {
                required.push("database");
            }
            if method.takes_body() {
                required.push("received");
            }
            if method != RouteMethod::Get {
                required.push("todo");
            }
            let required: Vec<String> = required.iter().map(|key| format!("\"{key}\"")).collect();
            let operation_id = format!("{}{}", method.lower(), self.pattern.camel_name());
            let security = if self.needs.auth { security } else { "[]" };
            let unavailable = if self.needs.database {
                "Unavailable"
            } else {
                "AuthUnavailable"
            };
            let operation = render(
                "openapi_operation.json.tmpl",
                files::OPENAPI_OPERATION,
                &[
                    ("KEY", method.lower()),
                    ("OPERATION_ID", &operation_id),
                    ("TAG", &self.pattern.tag()),
                    ("SUMMARY", &summary),
                    ("DESCRIPTION", &description),
                    ("SECURITY", security),
                    ("ANSWER", answer),
                    ("REQUIRED", &required.join(", ")),
                    ("PATTERN", self.pattern.as_str()),
                    ("METHOD", method.as_str()),
                    ("UNAVAILABLE", unavailable),
                ],
                &flags,
            )?;
            operations.push(operation.trim_end().to_owned());
        }
        let item = render(
            "openapi_path.json.tmpl",
            files::OPENAPI_PATH,
            &[
                ("PATH", &self.pattern.openapi_path()),
                ("PARAMETERS", &parameters.join(",\n")),
                ("OPERATIONS", &operations.join(",\n")),
            ],
            &flags,
        )?;
        Ok(item.trim_end().to_owned())
    }

    /// An operation's summary, description and `200` description.
    fn operation_text(&self, method: RouteMethod) -> (String, String, &'static str) {
        let needs = match (self.needs.auth, self.needs.database) {
            (false, false) => String::new(),
            (true, false) => " Needs a credential.".to_owned(),
            (false, true) => " Needs `DATABASE_URL` (`500 misconfigured` without).".to_owned(),
            (true, true) => {
                " Needs a credential, and `DATABASE_URL` (`500 misconfigured` without).".to_owned()
            }
        };
        let scaffolded = format!("Scaffolded by `gatehouse new route`; TODO: describe it.{needs}");
        match method {
            RouteMethod::Get => (
                format!("TODO: {}", self.pattern),
                format!(
                    "{scaffolded} Until written it answers the route's parameters{}{}.",
                    if self.needs.auth {
                        ", the caller's subject"
                    } else {
                        ""
                    },
                    if self.needs.database {
                        " and a database round trip"
                    } else {
                        ""
                    }
                ),
                "What the handler gets.",
            ),
            RouteMethod::Delete => (
                format!("TODO: DELETE {}", self.pattern),
                format!("{scaffolded} Until written it changes nothing and says so in `todo`."),
                "Nothing was changed: the handler is not written yet (`todo`).",
            ),
            _ => (
                format!("TODO: {} {}", method.as_str(), self.pattern),
                format!(
                    "{scaffolded} Until written it changes nothing and answers the JSON object it received, with `todo`."
                ),
                "Nothing was changed: the handler is not written yet (`todo`).",
            ),
        }
    }

    /// The route's row in `docs/routes.md`.
    pub fn routes_md_row(&self) -> String {
        let mut answers = Vec::new();
        for method in self.methods.iter() {
            answers.push(match method {
                RouteMethod::Get => format!(
                    "`GET` → `200 {{\"route\", \"params\"{}{}}}`",
                    if self.needs.auth { ", \"subject\"" } else { "" },
                    if self.needs.database {
                        ", \"database\""
                    } else {
                        ""
                    }
                ),
                other => format!(
                    "`{}` → `200` with a `todo`, changing nothing",
                    other.as_str()
                ),
            });
        }
        format!(
            "| `{}` | {} | TODO: what it answers (scaffolded by `gatehouse new route`: {}). |",
            self.pattern,
            self.methods.listed(),
            answers.join("; ")
        )
    }

    /// The route's row in README.md.
    pub fn readme_row(&self) -> String {
        format!(
            "| `{}` | {} | TODO: what it answers (scaffolded by `gatehouse new route`). |",
            self.pattern,
            self.methods.listed()
        )
    }
}

/// The head of a new `tests/integration/routes/mod.rs`.
pub fn test_modules_head() -> &'static str {
    files::TEST_MODULES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(pattern: &str, methods: &str, needs: &str) -> NewRoute {
        let pattern = RoutePattern::parse(pattern).unwrap();
        NewRoute {
            module: pattern.module_stem(),
            pattern,
            methods: Methods::parse(methods).unwrap(),
            needs: RouteNeeds::parse(needs).unwrap(),
            library: "gatehouse_app".to_owned(),
        }
    }

    const SECURITY: &str = r#"[{"bearer": []}]"#;

    /// Every combination of methods and needs renders, with no mark left.
    #[test]
    fn every_combination_renders() {
        let method_sets = [
            "GET",
            "POST",
            "DELETE",
            "GET,PATCH",
            "PUT,DELETE",
            "GET,POST,PUT,PATCH,DELETE",
        ];
        for methods in method_sets {
            for needs in ["none", "auth", "database", "auth,database"] {
                for pattern in ["/api/things", "/api/things/[id]/parts/[part]"] {
                    let route = route(pattern, methods, needs);
                    let texts = [
                        route.handler_module().unwrap(),
                        route.route_static().unwrap(),
                        route.binary().unwrap(),
                        route.test_module().unwrap(),
                        route.openapi_path_item(SECURITY).unwrap(),
                    ];
                    for text in &texts {
                        assert!(!text.contains("{{"), "{pattern} {methods} {needs}:\n{text}");
                    }
                    let item = format!("{{{}}}", texts[4]);
                    let item: serde_json::Value = serde_json::from_str(&item)
                        .unwrap_or_else(|err| panic!("{methods} {needs}: {err}\n{item}"));
                    let path = &item[route.pattern.openapi_path()];
                    for method in route.methods.iter() {
                        let operation = &path[method.lower()];
                        assert_eq!(
                            operation["responses"]["401"].is_object(),
                            route.needs.auth,
                            "{operation}"
                        );
                        assert_eq!(
                            operation["security"],
                            if route.needs.auth {
                                serde_json::json!([{ "bearer": [] }])
                            } else {
                                serde_json::json!([])
                            }
                        );
                    }
                    assert_eq!(
                        path["parameters"].as_array().map_or(0, Vec::len),
                        route.pattern.params().len()
                    );
                }
            }
        }
    }

    #[test]
    fn the_handler_dispatches_on_the_method() {
        let route = route("/api/orders/[id]", "GET,PATCH,DELETE", "auth,database");
        let module = route.handler_module().unwrap();
        assert!(
            module.contains("Method::PATCH => patch(&ctx).await,"),
            "{module}"
        );
        assert!(
            module.contains("Method::DELETE => delete(&ctx).await,"),
            "{module}"
        );
        assert!(module.contains("_ => get(&ctx).await,"), "{module}");
        assert!(
            module.contains("db.query_opt(APP_SCHEMA_VERSION, &[])"),
            "{module}"
        );
        assert!(module.contains("ctx.principal(None)"), "{module}");
        let single = route_with("/api/ping", "POST", "none");
        assert!(
            single.contains("    Box::pin(async move { post(&ctx).await })\n"),
            "{single}"
        );
        assert!(!single.contains("principal"), "{single}");
        assert!(!single.contains("Method"), "{single}");
    }

    fn route_with(pattern: &str, methods: &str, needs: &str) -> String {
        route(pattern, methods, needs).handler_module().unwrap()
    }

    #[test]
    fn names_and_rows() {
        let route = route("/api/orgs/[org]/members/[id]", "GET,PATCH", "auth");
        assert_eq!(route.sample_path(), "/api/orgs/42/members/43");
        assert_eq!(route.sample_params_json(), r#"{ "org": "42", "id": "43" }"#);
        assert!(
            route
                .routes_md_row()
                .starts_with("| `/api/orgs/[org]/members/[id]` | GET, PATCH | ")
        );
        assert_eq!(route.readme_row().matches(" | ").count(), 2);
        assert!(
            route
                .binary()
                .unwrap()
                .contains("gatehouse::host::serve(&gatehouse_app::routes::ORGS_ORG_MEMBERS_ID)")
        );
    }
}
