//! Turns hyper's streaming requests (Vercel host, dev server) into buffered
//! ones, refusing oversized or unreadable bodies with a reason.

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::error::RequestError;
use crate::http::Request;
use crate::http::request::MAX_BODY_BYTES;

pub(crate) async fn buffer(request: hyper::Request<Incoming>) -> Result<Request, RequestError> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(RequestError::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Err(RequestError::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        Err(_) => {
            return Err(RequestError::Malformed {
                detail: "the request body could not be read to its end".to_owned(),
            });
        }
    };
    Ok(Request::from_parts(parts, bytes))
}
