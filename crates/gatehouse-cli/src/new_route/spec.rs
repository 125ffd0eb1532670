//! What `gatehouse new route` is asked for, parsed: the route's pattern,
//! methods and needs, each refused with the problem and its fix (these are
//! clap's value parsers), and the names everything else derives from them.

use std::fmt;

/// A route's Vercel path pattern: `/api/` and one or more segments, each
/// lowercase `[a-z0-9-]` or one `[param]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Fixed(String),
    Param(String),
}

const PATTERN_FIX: &str = "write it as Vercel names the file under api/, e.g. /api/orders or /api/orders/[id]: segments of lowercase letters, digits and `-`, or one `[param]` (a lowercase name, letters, digits and `_`)";

impl RoutePattern {
    pub fn parse(raw: &str) -> Result<RoutePattern, String> {
        let refuse = |problem: String| Err(format!("{problem}; {PATTERN_FIX}"));
        let Some(rest) = raw.strip_prefix("/api/") else {
            return refuse(format!("`{raw}` does not start with /api/"));
        };
        if rest.is_empty() {
            return refuse(format!("`{raw}` names no route under /api/"));
        }
        let mut segments = Vec::new();
        for segment in rest.split('/') {
            if segment.is_empty() {
                return refuse(format!(
                    "`{raw}` has an empty segment (`//` or a trailing `/`)"
                ));
            }
            if segment.starts_with('[') || segment.ends_with(']') {
                let name = segment
                    .strip_prefix('[')
                    .and_then(|inner| inner.strip_suffix(']'))
                    .filter(|name| is_param_name(name));
                match name {
                    Some(name) => segments.push(Segment::Param(name.to_owned())),
                    None => {
                        return refuse(format!(
                            "`{segment}` in `{raw}` is not a `[param]` segment"
                        ));
                    }
                }
            } else if segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !segment.starts_with('-')
                && !segment.ends_with('-')
            {
                segments.push(Segment::Fixed(segment.to_owned()));
            } else {
                return refuse(format!(
                    "`{segment}` in `{raw}` is not a lowercase path segment"
                ));
            }
        }
        let mut params: Vec<&str> = segments
            .iter()
            .filter_map(|segment| match segment {
                Segment::Param(name) => Some(name.as_str()),
                Segment::Fixed(_) => None,
            })
            .collect();
        params.sort_unstable();
        if let Some(pair) = params.windows(2).find(|pair| pair[0] == pair[1]) {
            return refuse(format!("`{raw}` names the parameter `[{}]` twice", pair[0]));
        }
        let pattern = RoutePattern {
            text: raw.to_owned(),
            segments,
        };
        // The route's static is its binary name in capitals: it must be an
        // identifier (`/api/2fa` would make `2FA`).
        if !pattern
            .binary_name()
            .starts_with(|c: char| c.is_ascii_lowercase())
        {
            return refuse(format!(
                "`{raw}`'s first segment must start with a letter: the route's static is named after it ({})",
                pattern.static_name()
            ));
        }
        Ok(pattern)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The names of the `[param]` segments, in path order.
    pub fn params(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|segment| match segment {
                Segment::Param(name) => Some(name.as_str()),
                Segment::Fixed(_) => None,
            })
            .collect()
    }

    /// The `[[bin]]` name, as `gatehouse::route::Route::binary_name` derives
    /// it: the path after `/api/`, `/` as `-`, brackets dropped.
    pub fn binary_name(&self) -> String {
        self.text
            .trim_start_matches("/api/")
            .replace(['/', '.'], "-")
            .replace(['[', ']'], "")
    }

    /// The route's `pub static` in `src/routes/mod.rs`: the binary name in
    /// capitals, as `tests/integration/route_table.rs` expects.
    pub fn static_name(&self) -> String {
        self.binary_name().to_uppercase().replace('-', "_")
    }

    /// The file under the project root that serves it on Vercel.
    pub fn source_file(&self) -> String {
        format!("{}.rs", self.text.trim_start_matches('/'))
    }

    /// The path as OpenAPI writes it: `[id]` as `{id}`.
    pub fn openapi_path(&self) -> String {
        self.text.replace('[', "{").replace(']', "}")
    }

    /// The handler module's preferred name: the binary name with `_`. When
    /// that is a keyword, `_route` is appended (see [`module_name`]).
    pub fn module_stem(&self) -> String {
        self.binary_name().replace('-', "_")
    }

    /// `OrdersId`: the binary name's words, capitalised, for operation ids.
    pub fn camel_name(&self) -> String {
        self.binary_name()
            .split(['-', '_'])
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect()
    }

    /// The first fixed segment, as the OpenAPI tag of its operations.
    pub fn tag(&self) -> String {
        self.segments
            .iter()
            .find_map(|segment| match segment {
                Segment::Fixed(name) => Some(name.clone()),
                Segment::Param(_) => None,
            })
            .unwrap_or_else(|| self.binary_name())
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A pattern's path with every `[param]` as `[]`: two patterns of the same
/// shape serve the same URLs.
pub fn shape_of(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| {
            if segment.starts_with('[') && segment.ends_with(']') {
                "[]"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_param_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The handler module's name for `stem` when `taken` says which names are
/// used already: the stem itself, else `<stem>_route`.
pub fn module_name(stem: &str, taken: impl Fn(&str) -> bool) -> Option<String> {
    [stem.to_owned(), format!("{stem}_route")]
        .into_iter()
        .find(|name| !is_keyword(name) && !taken(name))
}

/// Rust's keywords, strict and reserved, as of edition 2024: none can name a
/// module without `r#`.
fn is_keyword(name: &str) -> bool {
    const KEYWORDS: [&str; 51] = [
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
        "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
        "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
        "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
    ];
    KEYWORDS.contains(&name)
}

/// An HTTP method a scaffolded route can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl RouteMethod {
    pub const ALL: [RouteMethod; 5] = [
        RouteMethod::Get,
        RouteMethod::Post,
        RouteMethod::Put,
        RouteMethod::Patch,
        RouteMethod::Delete,
    ];

    /// `GET`, as HTTP and the route tables write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteMethod::Get => "GET",
            RouteMethod::Post => "POST",
            RouteMethod::Put => "PUT",
            RouteMethod::Patch => "PATCH",
            RouteMethod::Delete => "DELETE",
        }
    }

    /// `get`: the handler's name, and the OpenAPI operation's key.
    pub fn lower(self) -> &'static str {
        match self {
            RouteMethod::Get => "get",
            RouteMethod::Post => "post",
            RouteMethod::Put => "put",
            RouteMethod::Patch => "patch",
            RouteMethod::Delete => "delete",
        }
    }

    /// `POST`, `PUT` and `PATCH` take a JSON body.
    pub fn takes_body(self) -> bool {
        matches!(
            self,
            RouteMethod::Post | RouteMethod::Put | RouteMethod::Patch
        )
    }
}

/// The route's methods: at least one, each once, in the order of
/// [`RouteMethod::ALL`] (`GET, POST, PUT, PATCH, DELETE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Methods(Vec<RouteMethod>);

impl Methods {
    pub fn parse(raw: &str) -> Result<Methods, String> {
        let mut methods = Vec::new();
        for word in raw.split(',').map(str::trim) {
            let found = RouteMethod::ALL
                .into_iter()
                .find(|method| method.as_str().eq_ignore_ascii_case(word));
            match found {
                Some(method) if !methods.contains(&method) => methods.push(method),
                Some(_) => {}
                None if word.is_empty() => {
                    return Err(
                        "an empty method; list them separated by commas, e.g. --methods GET,PATCH"
                            .into(),
                    );
                }
                None => {
                    return Err(format!(
                        "`{word}` is not a method a route can take here; choose from GET, POST, PUT, PATCH, DELETE (HEAD and OPTIONS are answered for every route), e.g. --methods GET,PATCH"
                    ));
                }
            }
        }
        methods.sort();
        Ok(Methods(methods))
    }

    pub fn iter(&self) -> impl Iterator<Item = RouteMethod> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, method: RouteMethod) -> bool {
        self.0.contains(&method)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The method a bare request to the route is tested and documented with:
    /// `GET` when the route takes it, else its first.
    pub fn primary(&self) -> RouteMethod {
        self.0.first().copied().unwrap_or(RouteMethod::Get)
    }

    pub fn any_body(&self) -> bool {
        self.0.iter().any(|method| method.takes_body())
    }

    /// `GET, PATCH`, as the route tables write them.
    pub fn listed(&self) -> String {
        self.0
            .iter()
            .map(|method| method.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the route needs from the configuration: a way to verify
/// credentials, the database, both, or none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteNeeds {
    pub auth: bool,
    pub database: bool,
}

impl RouteNeeds {
    pub fn parse(raw: &str) -> Result<RouteNeeds, String> {
        let mut needs = RouteNeeds::default();
        let mut none = false;
        for word in raw.split(',').map(str::trim) {
            match word.to_ascii_lowercase().as_str() {
                "none" => none = true,
                "auth" => needs.auth = true,
                "database" => needs.database = true,
                _ => {
                    return Err(format!(
                        "`{word}` is not a need; choose from none, auth, database (both: --needs auth,database)"
                    ));
                }
            }
        }
        if none && (needs.auth || needs.database) {
            return Err("`none` cannot be combined with auth or database; leave it out".to_owned());
        }
        Ok(needs)
    }

    /// The runtime's constant for these needs, as `src/routes/mod.rs`
    /// writes it.
    pub fn constant(self) -> &'static str {
        match (self.auth, self.database) {
            (false, false) => "Needs::NONE",
            (true, false) => "Needs::AUTH",
            (false, true) => "Needs::DATABASE",
            (true, true) => "Needs::AUTH_AND_DATABASE",
        }
    }

    /// `auth, database`, or `none`.
    pub fn listed(self) -> &'static str {
        match (self.auth, self.database) {
            (false, false) => "none",
            (true, false) => "auth",
            (false, true) => "database",
            (true, true) => "auth, database",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_with_their_names() {
        let pattern = RoutePattern::parse("/api/orders/[id]").unwrap();
        assert_eq!(pattern.binary_name(), "orders-id");
        assert_eq!(pattern.static_name(), "ORDERS_ID");
        assert_eq!(pattern.module_stem(), "orders_id");
        assert_eq!(pattern.source_file(), "api/orders/[id].rs");
        assert_eq!(pattern.openapi_path(), "/api/orders/{id}");
        assert_eq!(pattern.camel_name(), "OrdersId");
        assert_eq!(pattern.tag(), "orders");
        assert_eq!(pattern.params(), vec!["id"]);
        assert_eq!(shape_of(pattern.as_str()), "/api/orders/[]");

        let nested = RoutePattern::parse("/api/orgs/[org]/member-list/[user_id]").unwrap();
        assert_eq!(nested.binary_name(), "orgs-org-member-list-user_id");
        assert_eq!(nested.static_name(), "ORGS_ORG_MEMBER_LIST_USER_ID");
        assert_eq!(nested.params(), vec!["org", "user_id"]);
        assert_eq!(nested.camel_name(), "OrgsOrgMemberListUserId");
        assert_eq!(RoutePattern::parse("/api/ping").unwrap().tag(), "ping");
        assert_eq!(RoutePattern::parse("/api/[slug]").unwrap().tag(), "slug");
    }

    #[test]
    fn bad_patterns_are_refused_with_the_fix() {
        for (raw, problem) in [
            ("/orders", "does not start with /api/"),
            ("api/orders", "does not start with /api/"),
            ("/api/", "names no route"),
            (
                "/api/Orders",
                "`Orders` in `/api/Orders` is not a lowercase path segment",
            ),
            (
                "/api/a/[id",
                "`[id` in `/api/a/[id` is not a `[param]` segment",
            ),
            ("/api/a/id]", "is not a `[param]` segment"),
            ("/api/a/[]", "is not a `[param]` segment"),
            ("/api/a/[Id]", "is not a `[param]` segment"),
            ("/api/a/x[id]", "is not a `[param]` segment"),
            ("/api/a//b", "empty segment"),
            ("/api/a/", "empty segment"),
            ("/api/a.json", "not a lowercase path segment"),
            ("/api/a_b", "not a lowercase path segment"),
            ("/api/-a", "not a lowercase path segment"),
            ("/api/[id]/x/[id]", "names the parameter `[id]` twice"),
            ("/api/2fa", "must start with a letter"),
        ] {
            let err = RoutePattern::parse(raw).unwrap_err();
            assert!(err.contains(problem), "{raw}: {err}");
            assert!(err.contains("e.g. /api/orders"), "{raw}: the fix: {err}");
        }
    }

    #[test]
    fn methods_and_needs_parse_or_name_the_choices() {
        let methods = Methods::parse("patch,GET,PATCH").unwrap();
        assert_eq!(methods.listed(), "GET, PATCH");
        assert_eq!(methods.primary(), RouteMethod::Get);
        assert!(methods.any_body());
        assert_eq!(
            Methods::parse("DELETE").unwrap().primary(),
            RouteMethod::Delete
        );
        let err = Methods::parse("GET,FETCH").unwrap_err();
        assert!(err.contains("`FETCH`") && err.contains("GET, POST, PUT, PATCH, DELETE"));
        assert!(
            Methods::parse("GET,,POST")
                .unwrap_err()
                .contains("empty method")
        );
        assert!(Methods::parse("HEAD").is_err());

        assert_eq!(
            RouteNeeds::parse("auth,database").unwrap().constant(),
            "Needs::AUTH_AND_DATABASE"
        );
        assert_eq!(RouteNeeds::parse("none").unwrap().constant(), "Needs::NONE");
        assert_eq!(RouteNeeds::parse("database").unwrap().listed(), "database");
        let err = RouteNeeds::parse("auth,cache").unwrap_err();
        assert!(err.contains("`cache`") && err.contains("none, auth, database"));
        assert!(
            RouteNeeds::parse("none,auth")
                .unwrap_err()
                .contains("cannot be combined")
        );
    }

    #[test]
    fn module_names_avoid_keywords_and_taken_names() {
        assert_eq!(module_name("orders", |_| false).as_deref(), Some("orders"));
        assert_eq!(
            module_name("type", |_| false).as_deref(),
            Some("type_route")
        );
        assert_eq!(
            module_name("auth", |name| name == "auth").as_deref(),
            Some("auth_route")
        );
        assert_eq!(module_name("auth", |_| true), None);
    }
}
