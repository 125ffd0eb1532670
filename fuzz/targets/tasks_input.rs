//! The tasks API's inputs: create and patch bodies, the query string with
//! its cursor, `Idempotency-Key` and `If-Match`. The first byte picks which.
use gatehouse::route::parse_query;
use gatehouse_app::tasks::{
    Cursor, ListQuery, NewTask, Precondition, TaskPatch, idempotency_key, parse_id,
};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((which, rest)) = data.split_first() else {
            return;
        };
        let text = String::from_utf8_lossy(rest);
        match which % 6 {
            0 => {
                if let Ok(task) = NewTask::parse(rest) {
                    let _ = task.fingerprint();
                }
            }
            1 => {
                let _ = TaskPatch::parse(rest);
            }
            2 => {
                let _ = ListQuery::parse(&parse_query(&text));
            }
            3 => {
                if let Some(cursor) = Cursor::decode(&text) {
                    let _ = cursor.encode();
                }
            }
            4 => {
                let _ = idempotency_key(rest);
                let _ = parse_id(&text);
            }
            _ => {
                let _ = Precondition::parse(&text).expected_version();
            }
        }
    });
}
