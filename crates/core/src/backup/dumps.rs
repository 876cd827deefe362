//! Databases a backup dumps instead of pausing: a service whose image is MySQL, MariaDB or
//! PostgreSQL (recognised by the image's name, or marked by the service's own
//! `x-clubhost: { database: … }`) gets a logical dump run inside its running container,
//! consistent without stopping it (`mysqldump --single-transaction`, `pg_dumpall --clean`). Its
//! volume is still copied as it is, live; the dump is what a restore trusts, loaded back into the
//! running database by its own client (`mysql`, `psql`) once the restored project is up.

/// A database engine a dump is taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// MySQL, MariaDB, Percona: `mysqldump`.
    Mysql,
    /// PostgreSQL (and PostGIS): `pg_dumpall`.
    Postgres,
}

/// The engine an image runs, from its repository's last path segment (`mysql:8`,
/// `library/mariadb`, `ghcr.io/x/postgres:16`); `None` for anything else.
pub fn recognise(image: &str) -> Option<Engine> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repo = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
    match repo.as_str() {
        "mysql" | "mariadb" | "percona" | "percona-server" => Some(Engine::Mysql),
        "postgres" | "postgis" | "postgresql" => Some(Engine::Postgres),
        _ => None,
    }
}

/// The engine a service runs: its `x-clubhost.database` hint, else its image's name.
pub fn of_service(service: &clubhost_stack::ServiceSpec) -> Option<Engine> {
    match service.database {
        Some(clubhost_stack::Database::Mysql) => Some(Engine::Mysql),
        Some(clubhost_stack::Database::Postgres) => Some(Engine::Postgres),
        None => recognise(&service.image),
    }
}

/// The command run in the container: through its shell, so the credentials the official images
/// take from their environment (`MYSQL_ROOT_PASSWORD`, `MARIADB_ROOT_PASSWORD`, `POSTGRES_USER`)
/// never appear in clubhost's own arguments or logs.
pub fn command(engine: Engine) -> Vec<String> {
    let script = match engine {
        // MariaDB 11 images have only `mariadb-dump`; MySQL's and older ones `mysqldump`.
        Engine::Mysql => {
            "d=mysqldump; command -v mariadb-dump >/dev/null 2>&1 && d=mariadb-dump; \
             exec $d --single-transaction --routines --events --all-databases -uroot \
             -p\"${MYSQL_ROOT_PASSWORD:-$MARIADB_ROOT_PASSWORD}\""
        }
        // `--clean --if-exists`: loading it back replaces what the restored files hold instead
        // of adding to it.
        Engine::Postgres => "exec pg_dumpall --clean --if-exists -U \"${POSTGRES_USER:-postgres}\"",
    };
    vec!["sh".into(), "-c".into(), script.into()]
}

/// The client that loads a dump back, run in the database's container with the dump on its
/// standard input; credentials from the container's environment, as for [`command`]. A MySQL
/// dump of `--all-databases` drops and recreates each table; psql runs a `pg_dumpall --clean`
/// dump the way its manual restores one (into `postgres`, past statements such as dropping the
/// role it is connected as, which it reports and skips).
pub fn load_command(engine: Engine) -> Vec<String> {
    let script = match engine {
        Engine::Mysql => {
            "c=mysql; command -v mariadb >/dev/null 2>&1 && c=mariadb; \
             exec $c -uroot -p\"${MYSQL_ROOT_PASSWORD:-$MARIADB_ROOT_PASSWORD}\""
        }
        Engine::Postgres => "exec psql -X -q -U \"${POSTGRES_USER:-postgres}\" -d postgres",
    };
    vec!["sh".into(), "-c".into(), script.into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_images_are_recognised_by_name_only() {
        assert_eq!(recognise("mysql:8.4"), Some(Engine::Mysql));
        assert_eq!(recognise("docker.io/library/mariadb"), Some(Engine::Mysql));
        assert_eq!(recognise("postgres:16-alpine"), Some(Engine::Postgres));
        assert_eq!(
            recognise("reg:5000/postgis/postgis:16"),
            Some(Engine::Postgres)
        );
        assert_eq!(recognise("wordpress:6"), None);
        assert_eq!(recognise("mysql-exporter"), None);
        assert_eq!(recognise("postgres@sha256:abc"), Some(Engine::Postgres));
    }

    #[test]
    fn credentials_stay_in_the_container_environment() {
        let cmd = command(Engine::Mysql);
        assert!(cmd[2].contains("--single-transaction"));
        assert!(cmd[2].contains("${MYSQL_ROOT_PASSWORD"));
        let load = load_command(Engine::Mysql);
        assert!(load[2].contains("${MYSQL_ROOT_PASSWORD"), "{load:?}");
        assert!(command(Engine::Postgres)[2].contains("--clean"));
        assert!(load_command(Engine::Postgres)[2].contains("psql"));
    }
}
