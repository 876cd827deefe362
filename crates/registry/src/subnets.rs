//! The subnets of the Docker networks clubhost makes (migration 0007). Which block is free is the
//! caller's arithmetic (`clubhost-core` knows the pool, Docker's networks and the host's routes);
//! this module makes choosing and recording one atomic, so concurrent deploys, in this process or
//! another on the same registry, never get the same block.

use serde::Serialize;
use sqlx::FromRow;

use super::{Registry, RegistryError, Result, is_unique_violation, now};

/// One network's recorded subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct SubnetAllocation {
    /// The Docker network's name; one allocation per name.
    pub network: String,
    /// CIDR, e.g. `10.213.4.32/27`.
    pub subnet: String,
    /// The project's slug; `None` for the gateway network.
    pub project: Option<String>,
}

impl Registry {
    /// The subnet `network` is to be created with. `choose` is given the subnet recorded for it
    /// now (if any) and every other recorded subnet, and returns the one to keep or take, or
    /// `None` when there is none to be had (nothing is written then). All in one write
    /// transaction begun up front (`BEGIN IMMEDIATE`): a deferred one would let two deploys read
    /// the same free set and then one of them fail to commit.
    pub async fn allocate_subnet(
        &self,
        network: &str,
        project: Option<&str>,
        choose: impl FnOnce(Option<&str>, &[String]) -> Option<String>,
    ) -> Result<Option<String>> {
        let mut tx = self.write().await?;
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT network, subnet FROM subnets")
            .fetch_all(&mut *tx)
            .await?;
        let current = rows.iter().find(|(n, _)| n == network).map(|(_, s)| s);
        let others: Vec<String> = rows
            .iter()
            .filter(|(n, _)| n != network)
            .map(|(_, s)| s.clone())
            .collect();
        let Some(chosen) = choose(current.map(String::as_str), &others) else {
            return Ok(None);
        };
        if current != Some(&chosen) {
            let written = sqlx::query(
                "INSERT INTO subnets (network, subnet, project, allocated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (network) DO UPDATE SET subnet = excluded.subnet, \
                 project = excluded.project, allocated_at = excluded.allocated_at",
            )
            .bind(network)
            .bind(&chosen)
            .bind(project)
            .bind(now())
            .execute(&mut *tx)
            .await;
            match written {
                Err(e) if is_unique_violation(&e) => {
                    return Err(RegistryError::Conflict(format!(
                        "subnet {chosen} is already recorded for another network"
                    )));
                }
                other => other?,
            };
        }
        tx.commit().await?;
        Ok(Some(chosen))
    }

    /// Every recorded subnet, by network name.
    pub async fn subnets(&self) -> Result<Vec<SubnetAllocation>> {
        Ok(sqlx::query_as::<_, SubnetAllocation>(
            "SELECT network, subnet, project FROM subnets ORDER BY network",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets the subnets of networks that are gone from Docker, so their blocks can be reused.
    pub async fn free_subnets(&self, networks: &[String]) -> Result<()> {
        let mut tx = self.write().await?;
        for network in networks {
            sqlx::query("DELETE FROM subnets WHERE network = ?")
                .bind(network)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records networks found in Docker with the subnets Docker says they have (at start-up: ones
    /// made before clubhost chose subnets, or whose row a crash lost). Docker is right about an
    /// existing network, so another row claiming the same subnet is stale and goes.
    pub async fn record_subnets(&self, found: &[SubnetAllocation]) -> Result<()> {
        let mut tx = self.write().await?;
        for f in found {
            sqlx::query("DELETE FROM subnets WHERE subnet = ? AND network != ?")
                .bind(&f.subnet)
                .bind(&f.network)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO subnets (network, subnet, project, allocated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (network) DO UPDATE SET subnet = excluded.subnet, \
                 project = excluded.project",
            )
            .bind(&f.network)
            .bind(&f.subnet)
            .bind(&f.project)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(&dir.path().join("r.db"), crate::SecretKey::generate())
            .await
            .unwrap();
        (dir, r)
    }

    /// The first of `candidates` no other network holds, or the current one when set.
    fn first_of<'a>(
        candidates: &'a [&'a str],
    ) -> impl FnOnce(Option<&str>, &[String]) -> Option<String> + 'a {
        move |current, others| {
            current.map(str::to_string).or_else(|| {
                candidates
                    .iter()
                    .find(|c| !others.iter().any(|o| o == *c))
                    .map(|c| c.to_string())
            })
        }
    }

    #[tokio::test]
    async fn allocation_is_kept_reused_and_freed() {
        let (_dir, r) = registry().await;
        let blocks = ["10.213.4.0/27", "10.213.4.32/27"];
        let a = r.allocate_subnet("clubhost-a", Some("a"), first_of(&blocks));
        assert_eq!(a.await.unwrap().as_deref(), Some(blocks[0]));
        // Asking again for the same network gives the same block, not a second one.
        let again = r.allocate_subnet("clubhost-a", Some("a"), first_of(&blocks));
        assert_eq!(again.await.unwrap().as_deref(), Some(blocks[0]));
        let b = r.allocate_subnet("clubhost-b", Some("b"), first_of(&blocks));
        assert_eq!(b.await.unwrap().as_deref(), Some(blocks[1]));
        let c = r.allocate_subnet("clubhost-c", Some("c"), first_of(&blocks));
        assert_eq!(c.await.unwrap(), None, "pool exhausted");
        assert_eq!(r.subnets().await.unwrap().len(), 2);
        r.free_subnets(&["clubhost-a".into()]).await.unwrap();
        let c = r.allocate_subnet("clubhost-c", Some("c"), first_of(&blocks));
        assert_eq!(c.await.unwrap().as_deref(), Some(blocks[0]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_allocations_never_share_a_block() {
        let (_dir, r) = registry().await;
        let blocks: Vec<String> = (0..64).map(|i| format!("10.213.{i}.0/24")).collect();
        let tasks = (0..48).map(|i| {
            let r = r.clone();
            let blocks = blocks.clone();
            tokio::spawn(async move {
                let choose = |_: Option<&str>, others: &[String]| {
                    blocks.iter().find(|b| !others.contains(b)).cloned()
                };
                r.allocate_subnet(&format!("net-{i}"), Some("p"), choose)
                    .await
                    .unwrap()
                    .unwrap()
            })
        });
        let mut got: Vec<String> = futures_join(tasks).await;
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 48, "every allocation got its own block");
    }

    async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn found_networks_replace_stale_rows() {
        let (_dir, r) = registry().await;
        let blocks = ["10.213.4.0/27"];
        r.allocate_subnet("clubhost-old", Some("old"), first_of(&blocks))
            .await
            .unwrap();
        let found = SubnetAllocation {
            network: "clubhost-gateway".into(),
            subnet: "10.213.4.0/27".into(),
            project: None,
        };
        r.record_subnets(std::slice::from_ref(&found))
            .await
            .unwrap();
        assert_eq!(r.subnets().await.unwrap(), [found]);
    }
}
