//! The reference app's own tables, applied after the runtime's by
//! `gatehouse migrate` and `gatehouse dev` ([`APP`]). A team's tables go
//! here too: add `src/migrations/NNNN_<name>.sql` and one entry at the end,
//! never editing one that has shipped.

use gatehouse::db::migrations::{Component, Migration};

/// The app's migration history, numbered from 1 in the ledger's `app` rows.
pub const APP: Component = Component {
    name: "app",
    migrations: &[Migration {
        version: 1,
        name: "tasks",
        sql: include_str!("migrations/0001_tasks.sql"),
        upgrade_only: false,
    }],
};

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::APP;

    /// Every app migration that has landed, with the SHA-256 of its file: a
    /// database that applied one refuses a changed file, so a landed
    /// migration is never edited. Pin a new one in the change that adds it.
    const RELEASED: &[(i32, &str, &str)] = &[(
        1,
        "tasks",
        "2d798618bb1c360413b02d95d338c265fa7a2b5cf819a45e167833d19e2f2591",
    )];

    #[test]
    fn released_migrations_never_change() {
        for (version, name, pinned) in RELEASED {
            let migration = APP
                .migrations
                .iter()
                .find(|m| m.version == *version)
                .unwrap_or_else(|| panic!("released migration {version} ({name}) was removed"));
            assert_eq!(migration.name, *name, "migration {version} was renamed");
            let digest: String = Sha256::digest(migration.sql.as_bytes())
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            assert_eq!(
                digest, *pinned,
                "app migration {version} ({name}) changed after it landed: revert the edit and put the change in a new migration"
            );
        }
        for (index, migration) in APP.migrations.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "gap or reorder");
            assert!(
                RELEASED.iter().any(|(v, ..)| *v == migration.version),
                "app migration {} is not pinned in RELEASED: add its SHA-256",
                migration.version
            );
        }
    }
}
