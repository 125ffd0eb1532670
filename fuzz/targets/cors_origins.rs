//! `CORS_ORIGINS` patterns (first line) matched against origins as browsers
//! send them (the other lines), with the public-suffix judgement.
use gatehouse::auth::pattern::PatternList;
use gatehouse::http::public_suffix;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let mut lines = text.lines();
        let Some(first) = lines.next() else {
            return;
        };
        if let Ok(mut list) = PatternList::parse(first) {
            // Configuration, not a request, sets how many patterns there are:
            // a handful is what deployments write.
            list.0.truncate(16);
            for pattern in &list.0 {
                let _ = pattern.open_to_strangers();
            }
            // A request carries one Origin; sixteen per input is plenty.
            for origin in lines.take(16) {
                let _ = list.matches(origin);
                let host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
                let _ = public_suffix::registrable_domain(host);
            }
        }
        let _ = public_suffix::public_suffix(first);
    });
}
