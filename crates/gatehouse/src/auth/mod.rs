//! Authentication: which credentials a request carries, whether they are
//! valid, and, when not, exactly why.

pub mod credential;
pub mod pattern;
pub mod token_kind;
