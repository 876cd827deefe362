//! Networks with explicit subnets, against the real Docker engine: created with the subnet asked
//! for, kept as they are when they exist, refused with `SubnetTaken` when the range is in use,
//! and two racing creators of one network end with one. Every network made here is removed at
//! the end, passed or failed.

use clubhost_docker::{DockerError, Engine};

/// Far above the blocks the integration tests' clubs allocate from the default pool.
const BLOCK: &str = "10.213.240.0/27";
const INSIDE_BLOCK: &str = "10.213.240.0/28";
const RACE_BLOCK: &str = "10.213.240.64/27";

/// Removes the named networks when dropped, so a failed assertion leaves nothing behind.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.0 {
            // Every copy (a lost race may have made two).
            let _ = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "docker network ls -q --filter name=^{name}$ | xargs -r docker network rm"
                ))
                .output();
        }
    }
}

#[tokio::test]
async fn networks_get_the_subnet_asked_for_and_overlaps_are_refused() {
    let pid = std::process::id();
    let instance = format!("subnet-test-{pid}");
    let project = format!("subnets{pid}");
    let (a, b, race) = (
        format!("clubhost-{project}"),
        format!("clubhost-{project}_b"),
        format!("clubhost-{project}_race"),
    );
    let _cleanup = Cleanup(vec![a.clone(), b.clone(), race.clone()]);
    let engine = Engine::connect(None, &instance).await.unwrap();

    assert!(
        engine
            .ensure_project_network(&a, &project, BLOCK)
            .await
            .unwrap()
    );
    let listed = engine.network_subnets().await.unwrap();
    let mine = listed.iter().find(|n| n.name == a).expect("listed");
    assert_eq!(mine.subnets, [BLOCK]);
    assert!(mine.ours);
    assert_eq!(mine.project.as_deref(), Some(project.as_str()));
    // Docker's own networks are listed too, not ours.
    assert!(listed.iter().any(|n| n.name == "bridge" && !n.ours));

    // An existing network keeps its subnet whatever is asked later.
    assert!(
        !engine
            .ensure_project_network(&a, &project, RACE_BLOCK)
            .await
            .unwrap()
    );
    let again = engine.network_subnets().await.unwrap();
    assert_eq!(again.iter().find(|n| n.name == a).unwrap().subnets, [BLOCK]);

    // A range overlapping it is refused, by name, and nothing is created.
    match engine
        .ensure_project_network(&b, &project, INSIDE_BLOCK)
        .await
    {
        Err(DockerError::SubnetTaken { network, subnet }) => {
            assert_eq!(
                (network.as_str(), subnet.as_str()),
                (b.as_str(), INSIDE_BLOCK)
            );
        }
        other => panic!("expected SubnetTaken, got {other:?}"),
    }
    assert!(engine.networks(Some(&project)).await.unwrap() == [a.clone()]);

    // Two creators racing for one name with one subnet: the loser is refused by Docker for the
    // overlap, sees the winner's network, and both succeed with one network.
    let (x, y) = tokio::join!(
        engine.ensure_project_network(&race, &project, RACE_BLOCK),
        engine.ensure_project_network(&race, &project, RACE_BLOCK)
    );
    let created = [x.unwrap(), y.unwrap()];
    assert!(created.contains(&true), "{created:?}");
    let copies = engine
        .network_subnets()
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.name == race)
        .count();
    assert_eq!(copies, 1);

    engine.remove_network(&race).await.unwrap();
    engine.remove_network(&a).await.unwrap();
    assert!(engine.networks(Some(&project)).await.unwrap().is_empty());
}
