//! `DATABASE_URL`, as a deployer (or a copied provider string) writes it.
use gatehouse::db::url::DatabaseUrl;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(raw) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(url) = DatabaseUrl::parse(raw) {
            let _ = url.display_target();
            let _ = url.is_local();
            let _ = format!("{url:?}");
        }
    });
}
