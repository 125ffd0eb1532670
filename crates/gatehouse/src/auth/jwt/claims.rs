//! A JWT's claims, read lazily.
//!
//! The payload is parsed once into a map of *raw* JSON values borrowed from
//! the decoded bytes; a claim is decoded only when a check asks for it, and
//! with its type checked, so a wrongly typed `exp` is refused instead of
//! skipped. Building a full `serde_json::Value` tree instead cost more than
//! all the checks together (callgrind: ~10k instructions a token).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::auth::refusal::Refusal;
use crate::reason::Reason;

/// Claim name to raw JSON, in payload order. Tokens carry a dozen claims at
/// most, so a linear scan beats hashing.
#[derive(Debug)]
pub struct Claims<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// A claim that is present but of the wrong JSON type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType {
    pub found: &'static str,
}

impl<'a> Claims<'a> {
    /// Parses a decoded payload. Fails unless it is a JSON object.
    pub fn parse(payload: &'a [u8]) -> Result<Claims<'a>, &'static str> {
        let trimmed = payload.trim_ascii_start();
        if !trimmed.starts_with(b"{") {
            return Err(
                if serde_json::from_slice::<de::IgnoredAny>(payload).is_ok() {
                    "the token's payload is JSON but not an object"
                } else {
                    "the token's payload is not JSON"
                },
            );
        }
        // UTF-8 is validated once, in bulk: parsing from `&str` then skips
        // the per-string validation `from_slice` does (~1.2k instructions a
        // token, callgrind).
        let text = std::str::from_utf8(payload).map_err(|_| "the token's payload is not UTF-8")?;
        serde_json::from_str::<Claims<'a>>(text).map_err(|_| "the token's payload is not JSON")
    }

    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        // The last occurrence wins, as with JSON.parse in the issuers.
        self.entries
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, raw)| *raw)
    }

    /// A string claim.
    pub fn string(&self, name: &str) -> Result<Option<Cow<'a, str>>, WrongType> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        let text = raw.get();
        if !text.starts_with('"') {
            return Err(WrongType { found: kind(text) });
        }
        // Borrowed when the string has no escapes.
        match serde_json::from_str::<&'a str>(text) {
            Ok(borrowed) => Ok(Some(Cow::Borrowed(borrowed))),
            Err(_) => serde_json::from_str::<String>(text)
                .map(|owned| Some(Cow::Owned(owned)))
                .map_err(|_| WrongType {
                    found: "an invalid string",
                }),
        }
    }

    /// A number claim, such as a NumericDate.
    pub fn number(&self, name: &str) -> Result<Option<f64>, WrongType> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        match serde_json::from_str::<f64>(raw.get()) {
            Ok(number) if number.is_finite() => Ok(Some(number)),
            Ok(_) => Err(WrongType {
                found: "a number out of range",
            }),
            Err(_) => Err(WrongType {
                found: kind(raw.get()),
            }),
        }
    }

    /// A non-negative whole number claim.
    pub fn whole_number(&self, name: &str) -> Result<Option<u64>, WrongType> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        serde_json::from_str::<u64>(raw.get())
            .map(Some)
            .map_err(|_| WrongType {
                found: kind(raw.get()),
            })
    }

    /// A string or an array of strings, as `aud` may be.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<Cow<'a, str>>>, WrongType> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        if raw.get().starts_with('"') {
            return self
                .string(name)
                .map(|value| value.map(|single| vec![single]));
        }
        let items =
            serde_json::from_str::<Vec<&'a RawValue>>(raw.get()).map_err(|_| WrongType {
                found: kind(raw.get()),
            })?;
        items
            .into_iter()
            .map(
                |item| match serde_json::from_str::<Cow<'a, str>>(item.get()) {
                    Ok(text) => Ok(text),
                    Err(_) => Err(WrongType {
                        found: "an array holding something other than strings",
                    }),
                },
            )
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The claim as a JSON value (for the principal and for facts).
    pub fn value(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.raw(name)?.get()).ok()
    }

    /// The claim as display text: strings unquoted, arrays comma-joined.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.value(name)? {
            Value::String(text) => Some(text),
            Value::Array(items) => Some(
                items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_owned)
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            other => Some(other.to_string()),
        }
    }
}

fn kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Claims<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for ClaimsVisitor<'a> {
            type Value = Claims<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Claims<'a>, M::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(12).min(64));
                while let Some(key) = map.next_key::<Key<'a>>()? {
                    let value: &'a RawValue = map.next_value()?;
                    entries.push((key.0, value));
                }
                Ok(Claims { entries })
            }
        }

        deserializer.deserialize_map(ClaimsVisitor(std::marker::PhantomData))
    }
}

/// A key borrowed from the payload, or owned when it contains escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(value.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

/// A claim that cannot be read (a wrong type, a payload that is not a
/// JSON object): the token's own fault.
pub fn malformed(detail: &str) -> Refusal {
    Refusal::new(
        Reason::TokenMalformed,
        detail.to_owned(),
        "the token was not produced by a standard JWT library, or it was altered in transit",
    )
}

/// A claim the rules require is absent: the issuer's configuration lacks it.
pub fn claim_missing(claim: &str, detail: &str) -> Refusal {
    Refusal::new(
        Reason::ClaimMissing,
        format!("{detail} (claim `{claim}`)"),
        format!("configure the issuer to include the `{claim}` claim in its tokens"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_claims_lazily() {
        let payload = br#"{"iss":"https://a.test","aud":["x","y"],"exp":1700000000,"nbf":1.5e9,"sub":"u\u00e9","token_version":3,"email":"a@b.c"}"#;
        let claims = Claims::parse(payload).unwrap();
        assert_eq!(
            claims.string("iss").unwrap().as_deref(),
            Some("https://a.test")
        );
        assert_eq!(claims.string("sub").unwrap().as_deref(), Some("ué"));
        assert_eq!(claims.strings("aud").unwrap().unwrap(), ["x", "y"]);
        assert_eq!(claims.number("exp").unwrap(), Some(1_700_000_000.0));
        assert_eq!(claims.number("nbf").unwrap(), Some(1.5e9));
        assert_eq!(claims.whole_number("token_version").unwrap(), Some(3));
        assert_eq!(claims.value("email"), Some(Value::String("a@b.c".into())));
        assert_eq!(claims.text("aud").as_deref(), Some("x,y"));
        assert_eq!(claims.string("missing").unwrap(), None);
    }

    #[test]
    fn wrong_types_are_errors_not_absences() {
        let claims = Claims::parse(
            br#"{"exp":"1700000000","iss":5,"aud":[1],"token_version":-1,"escaped\u0041":true}"#,
        )
        .unwrap();
        assert_eq!(claims.number("exp"), Err(WrongType { found: "a string" }));
        assert_eq!(claims.string("iss"), Err(WrongType { found: "a number" }));
        assert!(claims.strings("aud").is_err());
        assert!(claims.whole_number("token_version").is_err());
        assert_eq!(claims.value("escapedA"), Some(Value::Bool(true)));
    }

    #[test]
    fn only_objects_are_claims() {
        assert_eq!(
            Claims::parse(b"[1,2]").unwrap_err(),
            "the token's payload is JSON but not an object"
        );
        assert_eq!(
            Claims::parse(b"{nope").unwrap_err(),
            "the token's payload is not JSON"
        );
        assert_eq!(
            Claims::parse(b"\"str\"").unwrap_err(),
            "the token's payload is JSON but not an object"
        );
    }
}
