//! Firebase Auth's (and Google Identity Platform's) preset, for ID tokens
//! as the Admin SDK's `verifyIdToken` checks them.
//!
//! `FIREBASE_PROJECT_ID` gives the issuer,
//! `https://securetoken.google.com/<project>`, and the audience, the project
//! id itself. The keys are Google's, published for
//! `securetoken@system.gserviceaccount.com` (the JWK form of the X.509
//! certificates the Admin SDK reads; same keys, same kids), RS256; the
//! `kid`, uid and `auth_time` rules are [`crate::auth::providers::firebase`].

use jsonwebtoken::Algorithm;

use crate::auth::identity;
use crate::auth::pattern::PatternList;
use crate::auth::providers::ProviderRules;
use crate::auth::settings::jwt::{IssuerSettings, IssuerVariables, exact, preset_jwks};
use crate::config::env::{Environment, Reader};

/// The Admin SDK's `verifyIdToken` allows no clock skew: neither does the preset, unless `JWT_LEEWAY_SECS` says otherwise.
const CLOCK_SKEW: std::time::Duration = std::time::Duration::ZERO;

/// Google's public keys for Firebase ID tokens, as a JWKS.
const JWKS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

const ALGORITHMS: [Algorithm; 1] = [Algorithm::RS256];

const VARIABLES: IssuerVariables = IssuerVariables {
    issuer: "FIREBASE_PROJECT_ID",
    audience_fix: "Firebase ID tokens name their project in aud: set FIREBASE_PROJECT_ID to the project the app signs its users in to",
    authorized_parties: "nothing: the Firebase preset does not check azp",
    keys: "Google's securetoken JWKS (or JWT_JWKS_URL)",
    algorithms: None,
};

pub(super) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    jwks_override: Option<String>,
) -> Option<IssuerSettings> {
    let project = r.get("FIREBASE_PROJECT_ID")?;
    if !is_project_id(&project) {
        r.error(
            "FIREBASE_PROJECT_ID",
            format!("is {project:?}, not a project id (lower-case letters, digits and hyphens)"),
            "set FIREBASE_PROJECT_ID to the project id from the Firebase console (Project settings → General → Project ID; firebaseConfig.projectId), not its display name or number",
        );
        return None;
    }
    let keys = preset_jwks(r, environment, JWKS_URL.to_owned(), jwks_override)?;
    Some(IssuerSettings {
        label: identity::FIREBASE.to_owned(),
        issuer: exact(&format!("https://securetoken.google.com/{project}")),
        audiences: exact(&project),
        authorized_parties: PatternList::default(),
        keys,
        algorithms: ALGORITHMS.to_vec(),
        provider: Some(ProviderRules::Firebase),
        leeway: Some(CLOCK_SKEW),
        secret: None,
        variables: VARIABLES,
    })
}

/// Google Cloud project ids: 6 to 30 lower-case letters, digits and
/// hyphens, starting with a letter (`demo-*` for the emulator included).
fn is_project_id(project: &str) -> bool {
    (6..=30).contains(&project.len())
        && project.starts_with(|c: char| c.is_ascii_lowercase())
        && !project.ends_with('-')
        && project
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::settings::KeySource;
    use crate::auth::settings::presets::tests::settings;

    #[test]
    fn the_project_gives_issuer_audience_and_googles_keys() {
        let (auth, problems, _) = settings(
            &[("FIREBASE_PROJECT_ID", "my-project-42")],
            Environment::Production,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let issuer = &auth.issuers[0];
        assert_eq!(
            issuer.leeway,
            Some(std::time::Duration::ZERO),
            "no skew, as the Admin SDK"
        );
        assert!(
            issuer
                .issuer
                .matches("https://securetoken.google.com/my-project-42")
        );
        assert!(issuer.audiences.matches("my-project-42"));
        assert!(matches!(&issuer.keys, KeySource::Jwks { url } if url == JWKS_URL));
        for bad in ["My Project", "12345678", "abc", "my-project-"] {
            let (_, problems, _) =
                settings(&[("FIREBASE_PROJECT_ID", bad)], Environment::Production);
            assert!(
                problems[0].starts_with("FIREBASE_PROJECT_ID"),
                "{bad}: {problems:?}"
            );
        }
    }
}
