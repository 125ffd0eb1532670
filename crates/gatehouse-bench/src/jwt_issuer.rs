//! A JWT issuer on loopback for the JWT cold start: a JWKS endpoint that
//! counts its requests, and an EdDSA token it signed, as an identity
//! provider would serve and mint them. The key is a fixed Ed25519 key made
//! for this benchmark: it protects nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const KID: &str = "gatehouse-bench-ed25519";
const PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKVouZcwR2vyGG5EH3RipG49svCC6olYdbnNtY6ii2M7
-----END PRIVATE KEY-----
";
/// The public half of [`PRIVATE_KEY_PEM`], base64url (RFC 8037 `x`).
const PUBLIC_KEY_X: &str = "8MbzSoh-_Lgm4pdVMzmwUm0QePdbKeFLgbSCPGih0tQ";
pub const ISSUER: &str = "https://issuer.bench.invalid";
pub const AUDIENCE: &str = "gatehouse-bench";
/// Each accepted connection is answered within this, or dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The running JWKS endpoint; stopped (its thread joined) when dropped.
#[derive(Debug)]
pub struct JwtIssuer {
    pub jwks_url: String,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl JwtIssuer {
    pub fn start() -> Result<JwtIssuer, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|err| format!("JWKS server: bind 127.0.0.1:0: {err}"))?;
        let addr = listener
            .local_addr()
            .map_err(|err| format!("JWKS server: local address: {err}"))?;
        let body = json!({
            "keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": KID, "x": PUBLIC_KEY_X}]
        })
        .to_string();
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        requests.fetch_add(1, Ordering::Relaxed);
                        answer(stream, &body);
                    }
                }
            })
        };
        Ok(JwtIssuer {
            jwks_url: format!("http://{addr}/.well-known/jwks.json"),
            requests,
            stop,
            addr,
            thread: Some(thread),
        })
    }

    /// The JWKS requests served so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The variables a function needs to trust this issuer.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("JWT_JWKS_URL".to_owned(), self.jwks_url.clone()),
            ("JWT_ISSUER".to_owned(), ISSUER.to_owned()),
            ("JWT_AUDIENCE".to_owned(), AUDIENCE.to_owned()),
        ]
    }

    /// A token for `sub`, valid for an hour from now.
    pub fn token(&self, sub: &str) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|err| format!("clock before 1970: {err}"))?
            .as_secs();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.to_owned());
        let claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub,
            "iat": now, "nbf": now, "exp": now + 3600,
            "jti": format!("bench-{now}-{sub}"),
        });
        let key = EncodingKey::from_ed_pem(PRIVATE_KEY_PEM.as_bytes())
            .map_err(|err| format!("the bench's Ed25519 key: {err}"))?;
        jsonwebtoken::encode(&header, &claims, &key).map_err(|err| format!("sign a JWT: {err}"))
    }
}

impl Drop for JwtIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads the request head and answers with the JWKS, closing the connection.
fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let mut head = Vec::with_capacity(512);
    let mut buf = [0_u8; 512];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(read) => head.extend_from_slice(&buf[..read]),
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=600\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_its_jwks_and_signs_with_the_matching_key() -> Result<(), String> {
        let issuer = JwtIssuer::start()?;
        let port = issuer.addr.port();
        let reply = crate::http::get(port, "/.well-known/jwks.json", &[], IO_TIMEOUT)?;
        assert_eq!(reply.status, 200);
        assert_eq!(issuer.requests(), 1);
        let jwks: serde_json::Value =
            serde_json::from_slice(&reply.body).map_err(|err| err.to_string())?;
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(jwks["keys"][0].clone()).map_err(|err| err.to_string())?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|err| err.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let token = issuer.token("user-1")?;
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .map_err(|err| err.to_string())?;
        assert_eq!(data.claims["sub"], "user-1");
        // Tampered: refused, so the key pair really is a pair.
        let mut forged = token.into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).map_err(|err| err.to_string())?;
        assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &validation).is_err());
        Ok(())
    }
}
