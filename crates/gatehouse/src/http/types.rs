//! The request and response types every host, the pipeline and every
//! handler share.

/// Body type used throughout: functions answer small JSON documents, so
/// whole bodies are buffered (within [`super::request::MAX_BODY_BYTES`]).
pub type Body = bytes::Bytes;
pub type Request = http::Request<Body>;
pub type Response = http::Response<Body>;
