//! Authentication: which credentials a request carries, whether they are
//! valid, and, when not, exactly why.

pub mod pattern;
