//! The rules browsers apply to cookies and cross-origin calls, judged the
//! way a browser judges them: which hosts are the same site, which cookies
//! a browser refuses to store, and which it keeps off a cross-site `fetch`.
//! `gatehouse doctor` and `gatehouse probe` share them, so both name the same
//! cause for a cookie that "just disappears".

use crate::level::Level;

use gatehouse::http::public_suffix;
pub use gatehouse::http::same_site::SameSite;

/// An origin's parts, lower-cased: enough for site and cookie decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
}

impl Origin {
    /// `https://App.example.com:8443/path` → `https`, `app.example.com`.
    /// Without a scheme, `https` is assumed.
    pub fn parse(url: &str) -> Origin {
        let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
        Origin {
            scheme: scheme.to_ascii_lowercase(),
            host: host_of(rest),
        }
    }

    /// Browsers treat loopback as a secure context: `Secure` cookies work
    /// on `http://localhost`.
    pub fn is_secure_context(&self) -> bool {
        self.scheme == "https" || is_loopback(&self.host)
    }

    /// The registrable domain (eTLD+1), or the host itself for an IP
    /// address, `localhost`, or a host directly under a public suffix.
    pub fn site(&self) -> String {
        site_of(&self.host)
    }

    /// The public suffix that splits `self` and `other` into different
    /// sites, when one does (`vercel.app` for two deployments).
    /// Only a multi-label suffix is named (`vercel.app`, `co.uk`): that two
    /// hosts under `com` are different sites needs no explaining.
    pub fn shared_public_suffix(&self, other: &Origin) -> Option<String> {
        if self.host == other.host || is_ip(&self.host) || is_ip(&other.host) {
            return None;
        }
        let suffix = public_suffix::public_suffix(&self.host);
        (suffix.contains('.')
            && suffix == public_suffix::public_suffix(&other.host)
            && self.site() != other.site())
        .then(|| suffix.to_owned())
    }
}

/// How a browser at `frontend` sees calls to `api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    SameOrigin,
    /// Same registrable domain and scheme: `SameSite=Lax` cookies are sent
    /// with `credentials: 'include'`, but it is still a CORS call.
    SameSite,
    /// Different sites (schemeful: `http` and `https` differ too). Cookies
    /// are third-party.
    CrossSite {
        /// Set when a public suffix such as `vercel.app` is what splits them.
        public_suffix: Option<String>,
    },
}

pub fn relation(frontend: &Origin, api: &Origin) -> Relation {
    if frontend == api {
        Relation::SameOrigin
    } else if frontend.scheme == api.scheme && frontend.site() == api.site() {
        Relation::SameSite
    } else {
        Relation::CrossSite {
            public_suffix: frontend.shared_public_suffix(api),
        }
    }
}

/// The host of `url` (or of a bare `host:port`), without user info or port.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = if host.starts_with('[') {
        // [::1]:3000
        host.split_once(']')
            .map_or(host, |(inside, _)| inside.trim_start_matches('['))
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(host, _)| host)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host == "::1" || host.starts_with("127.")
}

fn is_ip(host: &str) -> bool {
    host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Whether `host` is a subdomain of `domain`.
fn under(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|rest| rest.ends_with('.'))
}

/// The registrable domain by the Public Suffix List; an IP address, a
/// single label (`localhost`) or a public suffix itself is its own site.
fn site_of(host: &str) -> String {
    if is_ip(host) || !host.contains('.') {
        return host.to_owned();
    }
    public_suffix::registrable_domain(host)
        .unwrap_or(host)
        .to_owned()
}

/// One `Set-Cookie` header's attributes. The value is never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    /// `None` when absent: browsers then apply `Lax`.
    pub same_site: Option<SameSite>,
    /// Set when the attribute is present but not Strict, Lax or None.
    pub same_site_invalid: bool,
    pub domain: Option<String>,
    pub path: Option<String>,
    pub partitioned: bool,
}

impl SetCookie {
    /// Parses `name=value; Attr; Attr=v`, with or without a leading
    /// `Set-Cookie:`. `None` unless it has at least one attribute: a bare
    /// `name=value` is what a browser sends, not what a server sets.
    pub fn parse(line: &str) -> Option<SetCookie> {
        let mut parts = without_header_name(line).split(';');
        let (name, _value) = parts.next()?.split_once('=')?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return None;
        }
        let mut cookie = SetCookie {
            name: name.to_owned(),
            secure: false,
            http_only: false,
            same_site: None,
            same_site_invalid: false,
            domain: None,
            path: None,
            partitioned: false,
        };
        let mut attributes = 0;
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            attributes += 1;
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "secure" => cookie.secure = true,
                "httponly" => cookie.http_only = true,
                "partitioned" => cookie.partitioned = true,
                "domain" => {
                    cookie.domain = Some(value.trim_start_matches('.').to_ascii_lowercase());
                }
                "path" => cookie.path = Some(value.to_owned()),
                "samesite" => match value.to_ascii_lowercase().as_str() {
                    "strict" => cookie.same_site = Some(SameSite::Strict),
                    "lax" => cookie.same_site = Some(SameSite::Lax),
                    "none" => cookie.same_site = Some(SameSite::None),
                    _ => cookie.same_site_invalid = true,
                },
                _ => {}
            }
        }
        (attributes > 0).then_some(cookie)
    }
}

/// `line` without a leading `Set-Cookie:`, as pasted from dev tools.
pub fn without_header_name(line: &str) -> &str {
    let line = line.trim();
    line.get(..11)
        .filter(|head| head.eq_ignore_ascii_case("set-cookie:"))
        .and_then(|_| line.get(11..))
        .map_or(line, str::trim_start)
}

/// RFC 6265 `token` characters.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&byte)
}

/// One judgement about a cookie or an origin pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub level: Level,
    pub message: String,
    pub fix: Option<String>,
}

impl Rule {
    fn fail(message: String, fix: impl Into<String>) -> Rule {
        Rule {
            level: Level::Fail,
            message,
            fix: Some(fix.into()),
        }
    }

    fn warn(message: String, fix: impl Into<String>) -> Rule {
        Rule {
            level: Level::Warn,
            message,
            fix: Some(fix.into()),
        }
    }

    fn pass(message: String) -> Rule {
        Rule {
            level: Level::Pass,
            message,
            fix: None,
        }
    }
}

/// Where a cookie comes from and goes to.
#[derive(Debug, Clone, Default)]
pub struct CookieContext<'a> {
    /// The host that sets it (the auth server), when known.
    pub set_by: Option<&'a Origin>,
    /// The API that must receive it, when known.
    pub api: Option<&'a Origin>,
    /// Frontend origins that call the API with `credentials: 'include'`.
    pub frontends: &'a [Origin],
}

/// What a browser does with `cookie`: refuse to store it, store it but keep
/// it off the API or off cross-site calls, or send it.
pub fn judge_cookie(cookie: &SetCookie, context: &CookieContext<'_>) -> Vec<Rule> {
    let mut rules = Vec::new();
    let name = &cookie.name;
    let mut stored = true;
    if cookie.same_site == Some(SameSite::None) && !cookie.secure {
        stored = false;
        rules.push(Rule::fail(
            format!("{name} is SameSite=None without Secure: browsers reject the cookie outright, so the session never arrives"),
            "add Secure to the cookie (serve the auth server over https; http://localhost counts as secure), or drop SameSite=None",
        ));
    }
    if cookie.same_site_invalid {
        rules.push(Rule::warn(
            format!("{name} has a SameSite value browsers do not know, so they apply Lax"),
            "use SameSite=Lax, Strict or None (with Secure)",
        ));
    }
    if name.starts_with("__Secure-") && !cookie.secure {
        stored = false;
        rules.push(Rule::fail(
            format!("{name} has the __Secure- prefix without Secure: browsers reject it"),
            "add Secure, or drop the prefix",
        ));
    }
    if name.starts_with("__Host-")
        && (!cookie.secure
            || cookie.domain.is_some()
            || cookie.path.as_deref().is_some_and(|path| path != "/"))
    {
        stored = false;
        rules.push(Rule::fail(
            format!("{name} has the __Host- prefix but not Secure, Path=/ and no Domain: browsers reject it"),
            "set Secure and Path=/, and remove Domain (or drop the prefix)",
        ));
    }
    if let Some(setter) = context.set_by {
        if cookie.secure && !setter.is_secure_context() {
            stored = false;
            rules.push(Rule::fail(
                format!(
                    "{name} is Secure but set by http://{}: browsers store Secure cookies only from https (or localhost)",
                    setter.host
                ),
                "serve the auth server over https",
            ));
        }
        if let Some(domain) = &cookie.domain
            && setter.host != *domain
            && !under(&setter.host, domain)
        {
            stored = false;
            rules.push(Rule::fail(
                format!("{name} has Domain={domain}, which does not cover its setter {}: browsers reject it", setter.host),
                "set Domain to the auth server's own domain or a parent of it",
            ));
        }
    }
    if !cookie.http_only {
        rules.push(Rule::warn(
            format!("{name} is not HttpOnly: any script on the page, an injected one included, can read the session"),
            "set HttpOnly on session cookies",
        ));
    }
    if !stored {
        return rules;
    }
    if let Some(api) = context.api {
        // Which hosts the browser sends the cookie to.
        let reaches_api = match (&cookie.domain, context.set_by) {
            (Some(domain), _) => api.host == *domain || under(&api.host, domain),
            (None, Some(setter)) => setter.host == api.host,
            (None, None) => true,
        };
        if reaches_api {
            if cookie.secure && !api.is_secure_context() {
                rules.push(Rule::fail(
                    format!(
                        "{name} is Secure, and the API is http://{}: browsers never send it there",
                        api.host
                    ),
                    "serve the API over https",
                ));
            }
        } else {
            let setter = context
                .set_by
                .map_or_else(|| "its setter".to_owned(), |o| o.host.clone());
            rules.push(Rule::fail(
                format!(
                    "{name} is a cookie of {}, and browsers never send it to the API at {}",
                    cookie.domain.as_deref().unwrap_or(&setter),
                    api.host
                ),
                format!(
                    "same site: set the cookie's Domain to {} (Better Auth: advanced.crossSubDomainCookies); otherwise send the session token in Authorization: Bearer",
                    api.site()
                ),
            ));
            return rules;
        }
        for frontend in context.frontends {
            let Relation::CrossSite { public_suffix } = relation(frontend, api) else {
                continue;
            };
            let why = public_suffix.map_or_else(String::new, |suffix| {
                format!(" ({suffix} is a public suffix: each deployment is its own site)")
            });
            match cookie.same_site {
                Some(SameSite::None) => rules.push(Rule::warn(
                    format!(
                        "{name} is SameSite=None; Secure, so it goes on calls from {}{why} only where third-party cookies are allowed: Safari and Firefox block them by default{}",
                        frontend.host,
                        if cookie.partitioned { "; Partitioned keeps it per top-level site" } else { "" }
                    ),
                    "send the credential in Authorization: Bearer, or serve the API under the frontend's own site",
                )),
                _ => rules.push(Rule::fail(
                    format!(
                        "{name} is SameSite={}, and {} is another site than {}{why}: browsers keep the cookie off its calls",
                        match cookie.same_site {
                            Some(SameSite::Strict) => "Strict",
                            _ => "Lax (the default)",
                        },
                        frontend.host,
                        api.host
                    ),
                    "send the credential in Authorization: Bearer, or serve the API under the frontend's own site",
                )),
            }
        }
    }
    if rules.iter().all(|rule| rule.level == Level::Pass) {
        rules.push(Rule::pass(format!(
            "{name}: browsers store it and send it to the API"
        )));
    }
    rules
}

/// Whether browsers at each frontend origin can carry the API's cookies,
/// and what credentialed CORS needs. `cookies` says whether the deployment
/// relies on cookies at all.
pub fn judge_origins(api: &Origin, frontends: &[Origin], cookies: bool) -> Vec<Rule> {
    let mut rules = Vec::new();
    for frontend in frontends {
        if frontend.scheme == "http" && !is_loopback(&frontend.host) {
            rules.push(Rule::warn(
                format!("CORS origin http://{} is not https: its pages cannot use Secure cookies and its traffic can be altered", frontend.host),
                "list the https:// origin in CORS_ORIGINS",
            ));
        }
        match relation(frontend, api) {
            Relation::SameOrigin => rules.push(Rule::pass(format!(
                "{} is the API's own origin",
                frontend.host
            ))),
            Relation::SameSite => rules.push(Rule::pass(format!(
                "{} and {} are the same site: SameSite=Lax cookies reach the API with credentials: 'include'",
                frontend.host, api.host
            ))),
            Relation::CrossSite { public_suffix } => {
                let why = public_suffix.map_or_else(String::new, |suffix| {
                    format!(" ({suffix} is a public suffix: two deployments there never share cookies)")
                });
                let message = format!(
                    "{} and {} are different sites{why}: cookies the API relies on are third-party there, and browsers that block those drop them",
                    frontend.host, api.host
                );
                let fix = "send the credential in Authorization: Bearer from the frontend, or put the API under the frontend's domain (a custom domain, or a rewrite on the frontend's project)";
                rules.push(if cookies {
                    Rule::warn(message, fix)
                } else {
                    Rule::pass(format!(
                        "{message}; fine while credentials go in Authorization"
                    ))
                });
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::parse(url)
    }

    #[test]
    fn sites_follow_the_public_suffixes() {
        assert_eq!(origin("https://api.example.com").site(), "example.com");
        assert_eq!(origin("https://a.b.example.co.uk").site(), "example.co.uk");
        assert_eq!(
            origin("https://app-x.vercel.app").site(),
            "app-x.vercel.app"
        );
        assert_eq!(origin("http://127.0.0.1:3000").site(), "127.0.0.1");
        assert_eq!(
            relation(
                &origin("https://app.example.com"),
                &origin("https://api.example.com")
            ),
            Relation::SameSite
        );
        assert_eq!(
            relation(
                &origin("https://app-y.vercel.app"),
                &origin("https://api-x.vercel.app")
            ),
            Relation::CrossSite {
                public_suffix: Some("vercel.app".to_owned())
            }
        );
        assert_eq!(
            relation(
                &origin("http://app.example.com"),
                &origin("https://api.example.com")
            ),
            Relation::CrossSite {
                public_suffix: None
            }
        );
        assert_eq!(
            host_of("https://user@Api.Example.com:8443/x"),
            "api.example.com"
        );
        assert_eq!(host_of("http://[::1]:3000/"), "::1");
    }

    #[test]
    fn set_cookie_attributes_are_parsed_without_keeping_the_value() {
        let cookie = SetCookie::parse(
            "Set-Cookie: __Secure-better-auth.session_token=abc.def%3D; Path=/; HttpOnly; Secure; SameSite=None; Domain=.Example.com",
        )
        .expect("parsed");
        assert_eq!(cookie.name, "__Secure-better-auth.session_token");
        assert!(cookie.secure && cookie.http_only);
        assert_eq!(cookie.same_site, Some(SameSite::None));
        assert_eq!(cookie.domain.as_deref(), Some("example.com"));
        assert!(!format!("{cookie:?}").contains("abc"));
        assert_eq!(SetCookie::parse("name=value"), None);
        assert_eq!(SetCookie::parse("eyJhbGciOi.x.y"), None);
    }

    #[test]
    fn samesite_none_without_secure_is_rejected() {
        let cookie = SetCookie::parse("s=1; SameSite=None; HttpOnly").unwrap();
        let rules = judge_cookie(&cookie, &CookieContext::default());
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(rules[0].level, Level::Fail);
        assert!(rules[0].message.contains("without Secure"));
    }

    #[test]
    fn a_host_only_cookie_of_another_host_never_reaches_the_api() {
        let auth = origin("https://auth.example.com");
        let api = origin("https://api.example.com");
        let cookie = SetCookie::parse("s=1; Secure; HttpOnly; SameSite=Lax").unwrap();
        let context = CookieContext {
            set_by: Some(&auth),
            api: Some(&api),
            frontends: &[],
        };
        let rules = judge_cookie(&cookie, &context);
        assert_eq!(rules[0].level, Level::Fail, "{rules:?}");
        assert!(rules[0].fix.as_deref().unwrap().contains("example.com"));
        let shared = SetCookie::parse("s=1; Secure; HttpOnly; Domain=example.com").unwrap();
        let rules = judge_cookie(&shared, &context);
        assert_eq!(rules[0].level, Level::Pass, "{rules:?}");
    }

    #[test]
    fn a_lax_cookie_is_kept_off_cross_site_calls() {
        let api = origin("https://api-x.vercel.app");
        let frontends = [origin("https://app-y.vercel.app")];
        let cookie = SetCookie::parse("s=1; Secure; HttpOnly").unwrap();
        let context = CookieContext {
            set_by: None,
            api: Some(&api),
            frontends: &frontends,
        };
        let rules = judge_cookie(&cookie, &context);
        assert_eq!(rules[0].level, Level::Fail, "{rules:?}");
        assert!(rules[0].message.contains("public suffix"), "{rules:?}");
        let origins = judge_origins(&api, &frontends, true);
        assert_eq!(origins[0].level, Level::Warn);
    }
}
