//! Exact values and safe wildcard patterns for issuers, audiences and CORS
//! origins, so one setting covers every preview deployment
//! (`https://myapp-*-team.vercel.app`) without matching an attacker's host.
//!
//! A `*` matches one or more characters, none of which is `.`, `/`, `:`, `@`
//! or `?`: it stays inside one DNS label, so `https://*.example.com` never
//! matches `https://evil.com/.example.com` or `https://a.b.example.com`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    raw: String,
    /// Literal pieces between the stars; one piece means no star.
    pieces: Vec<String>,
}

/// Why a pattern was refused at configuration time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternProblem(pub String);

impl Pattern {
    pub fn parse(raw: &str) -> Result<Pattern, PatternProblem> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(PatternProblem("is empty".into()));
        }
        if raw.len() > MAX_PATTERN_BYTES {
            return Err(PatternProblem(format!(
                "is {} characters long; no origin, issuer or audience is longer than {MAX_PATTERN_BYTES}",
                raw.len()
            )));
        }
        if raw.contains("**") {
            return Err(PatternProblem(format!(
                "`{raw}` has `**`; use one `*` per label"
            )));
        }
        if raw == "*" {
            return Err(PatternProblem(
                "`*` alone would accept anything; list the exact values or a pattern such as https://myapp-*.vercel.app".into(),
            ));
        }
        let pieces: Vec<String> = raw.split('*').map(str::to_owned).collect();
        if pieces.len() > 1 {
            // A star in the scheme or right after `://` with nothing fixed
            // after it in the host would make the host itself a wildcard.
            let Some((scheme, rest)) = raw.split_once("://") else {
                return Err(PatternProblem(format!(
                    "`{raw}` has a `*` but no scheme; write https://…"
                )));
            };
            if scheme.contains('*') {
                return Err(PatternProblem(format!("`{raw}` has a `*` in its scheme")));
            }
            let host = rest.split(['/', '?']).next().unwrap_or(rest);
            let after_last_star = host.rsplit('*').next().unwrap_or("");
            let is_port_wildcard = host.ends_with(":*") && host.matches('*').count() == 1;
            if !after_last_star.contains('.') && !is_port_wildcard {
                return Err(PatternProblem(format!(
                    "`{raw}` leaves the domain open after its last `*`; fix the registrable domain, e.g. https://myapp-*.vercel.app"
                )));
            }
        }
        Ok(Pattern {
            raw: raw.to_owned(),
            pieces,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn is_exact(&self) -> bool {
        self.pieces.len() == 1
    }

    pub fn matches(&self, candidate: &str) -> bool {
        glob(&self.pieces, candidate)
    }

    /// For a pattern with a `*` in its host: the fixed labels right of the
    /// last label holding a `*` (`vercel.app` for
    /// `https://myapp-*-acme.vercel.app`), which whoever matches the pattern
    /// sits under. `None` for an exact value or a port-only wildcard.
    pub fn wildcard_parent(&self) -> Option<String> {
        if self.is_exact() {
            return None;
        }
        let rest = self
            .raw
            .split_once("://")
            .map_or(self.raw.as_str(), |(_, rest)| rest);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit() || b == b'*'))
            .map_or(authority, |(host, _)| host);
        let labels: Vec<&str> = host.split('.').collect();
        let last_wild = labels.iter().rposition(|label| label.contains('*'))?;
        Some(labels[last_wild + 1..].join(".").to_ascii_lowercase())
    }

    /// Whether a stranger can register a host this pattern matches: its
    /// wildcard sits directly under a public suffix (`*.vercel.app`,
    /// `a*.co.uk`, `*.com`), not under a domain someone owns. Returns that
    /// suffix.
    pub fn open_to_strangers(&self) -> Option<String> {
        let parent = self.wildcard_parent()?;
        (parent.is_empty() || crate::http::public_suffix::is_public_suffix(&parent))
            .then_some(parent)
    }
}

/// Longest pattern: matching costs pattern × candidate, so both are bounded.
const MAX_PATTERN_BYTES: usize = 512;

/// Longest value a pattern is matched against: DNS names stop at 253
/// characters, and an `Origin` header (attacker-chosen, up to the header
/// budget) longer than this is no origin anyone configured.
const MAX_CANDIDATE_BYTES: usize = 2048;

/// `pieces[0]` literally, then for each further piece a star (one or more
/// non-separator bytes: characters, for any pattern that parses) followed by
/// that piece literally.
///
/// Greedy, leftmost-first: each middle piece is taken at its first
/// occurrence after the star's first character, the last piece is anchored
/// at the end. One forward pass, O(candidate) for a fixed pattern, whatever
/// the stars: backtracking would be O(candidate^stars) on a long label, a
/// denial of service one request's `Origin` could trigger.
///
/// Leftmost is never wrong here: a later occurrence of a piece would put
/// the earlier one inside the star before it, and every character the
/// leftmost choice leaves to the next star is either in that earlier
/// occurrence too or a non-separator, so a later choice cannot succeed where
/// the leftmost failed. The unit tests check this against an exhaustive
/// matcher.
fn glob(pieces: &[String], candidate: &str) -> bool {
    let [first, middle @ .., last] = pieces else {
        return pieces.first().is_some_and(|only| only == candidate);
    };
    if candidate.len() > MAX_CANDIDATE_BYTES {
        return false;
    }
    let Some(rest) = candidate.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some(rest) = rest.strip_suffix(last.as_str()) else {
        return false;
    };
    // `rest` holds the stars and the middle pieces. Each star takes one or
    // more bytes, up to the first occurrence of the piece after it; stars
    // with nothing between them (`**`, which parsing refuses, but the
    // matcher stays exact) add to the bytes the next piece must wait for.
    let mut at = 0;
    let mut stars = 1;
    for piece in middle {
        if piece.is_empty() {
            stars += 1;
            continue;
        }
        // A non-empty piece starts on a character boundary.
        let Some(from) = (at + stars..=rest.len()).find(|&i| rest.is_char_boundary(i)) else {
            return false;
        };
        let Some(found) = rest[from..].find(piece.as_str()) else {
            return false;
        };
        if rest[at..from + found].chars().any(is_separator) {
            return false;
        }
        at = from + found + piece.len();
        stars = 1;
    }
    // The last stars take whatever is left before the anchored last piece.
    rest.len() - at >= stars && !rest[at..].chars().any(is_separator)
}

fn is_separator(c: char) -> bool {
    matches!(c, '.' | '/' | ':' | '@' | '?' | '#')
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({})", self.raw)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Several accepted values; a candidate is accepted when any matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatternList(pub Vec<Pattern>);

impl PatternList {
    /// A comma-separated list.
    pub fn parse(raw: &str) -> Result<PatternList, PatternProblem> {
        raw.split(',')
            .filter(|item| !item.trim().is_empty())
            .map(Pattern::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(PatternList)
    }

    pub fn matches(&self, candidate: &str) -> bool {
        self.0.iter().any(|pattern| pattern.matches(candidate))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For messages: `a, b, c`.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(Pattern::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: &str) -> Pattern {
        Pattern::parse(raw).unwrap()
    }

    #[test]
    fn exact_values_match_only_themselves() {
        let exact = p("https://app.example.com");
        assert!(exact.is_exact());
        assert!(exact.matches("https://app.example.com"));
        assert!(!exact.matches("https://app.example.com/"));
        assert!(!exact.matches("https://app.example.com.evil.io"));
    }

    #[test]
    fn a_star_stays_inside_one_label() {
        let preview = p("https://myapp-*-team.vercel.app");
        assert!(preview.matches("https://myapp-git-main-team.vercel.app"));
        assert!(preview.matches("https://myapp-abc123-team.vercel.app"));
        assert!(
            !preview.matches("https://myapp--team.vercel.app"),
            "a star matches at least one character"
        );
        assert!(!preview.matches("https://myapp-x.evil.com/-team.vercel.app"));
        assert!(!preview.matches("https://myapp-a.b-team.vercel.app"));
        assert!(!preview.matches("https://myapp-x-team.vercel.app.evil.com"));
        assert!(!preview.matches("http://myapp-x-team.vercel.app"));

        let sub = p("https://*.example.com");
        assert!(sub.matches("https://app.example.com"));
        assert!(!sub.matches("https://a.b.example.com"));
        assert!(!sub.matches("https://evil.com/.example.com"));
        assert!(!sub.matches("https://evil.com?.example.com"));
        assert!(!sub.matches("https://user@evil.com:.example.com"));
        assert!(!sub.matches("https://example.com"));

        let port = p("http://localhost:*");
        assert!(port.matches("http://localhost:3000"));
        assert!(!port.matches("http://localhost:3000.evil.com"));
    }

    #[test]
    fn many_stars_against_a_long_label_stay_linear() {
        // Backtracking would try about 2000^4 splits here.
        let stars = p("https://a*a*a*a*b.example.com");
        let long = format!("https://{}.example.com", "a".repeat(2000));
        assert!(!stars.matches(&long));
        assert!(stars.matches("https://aaaaaaaab.example.com"));
        assert!(
            !stars.matches("https://aaaab.example.com"),
            "each star takes one or more"
        );
        // Longer than any origin: never a match.
        let any = p("https://*.example.com");
        assert!(!any.matches(&format!("https://{}.example.com", "x".repeat(3000))));
    }

    /// The exhaustive matcher: every way of splitting the candidate among
    /// the stars, by dynamic programming over (token, byte).
    fn exhaustive(pieces: &[String], candidate: &str) -> bool {
        if pieces.len() == 1 {
            return pieces[0] == candidate;
        }
        let mut tokens: Vec<Option<u8>> = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            if index > 0 {
                tokens.push(None);
            }
            tokens.extend(piece.bytes().map(Some));
        }
        let mut row = vec![false; tokens.len() + 1];
        row[0] = true;
        for byte in candidate.bytes() {
            let mut next = vec![false; tokens.len() + 1];
            for (j, token) in tokens.iter().enumerate() {
                next[j + 1] = match token {
                    Some(literal) => row[j] && *literal == byte,
                    None => (row[j] || row[j + 1]) && !is_separator(char::from(byte)),
                };
            }
            row = next;
        }
        row[tokens.len()]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn the_greedy_matcher_agrees_with_the_exhaustive_one(
            pieces in proptest::collection::vec("[ab.-]{0,4}", 1..5),
            candidate in "[ab.é-]{0,14}",
        ) {
            proptest::prop_assert_eq!(
                glob(&pieces, &candidate),
                exhaustive(&pieces, &candidate),
                "pieces {:?}, candidate {:?}", pieces, candidate
            );
        }
    }

    #[test]
    fn patterns_that_would_open_the_domain_are_refused() {
        for bad in [
            "*",
            "https://*",
            "https://app.*",
            "https://example.*",
            "*.example.com",
            "https://**.example.com",
            "htt*://a.example.com",
            "",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn lists_match_any_member() {
        let list =
            PatternList::parse("https://app.example.com, https://myapp-*.vercel.app").unwrap();
        assert!(list.matches("https://app.example.com"));
        assert!(list.matches("https://myapp-pr-12.vercel.app"));
        assert!(!list.matches("https://other.vercel.app"));
        assert_eq!(
            list.describe(),
            "https://app.example.com, https://myapp-*.vercel.app"
        );
    }
}
