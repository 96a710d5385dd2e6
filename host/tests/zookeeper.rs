//! The host's ZooKeeper client against a real ZooKeeper (tests/cluster/zookeeper.sh): a tree is
//! marked as its cluster's, an unmarked one adopted only if younger than the cluster, and removed
//! only by its owner.
//!
//!   cargo test -p ecs-operator --test zookeeper -- --ignored

mod common;

use common::live::ZooKeeper;
use ecs_operator::zookeeper::{Claimant, Cleaned, Ownership, Session, claim, marker, ownership, remove_if_ours};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn who(uid: &str, adopt_from_ms: Option<i64>) -> Claimant {
    Claimant { uid: uid.into(), cluster: format!("ns-{uid}/ecs"), adopt_from_ms }
}

fn now_ms() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_millisecond()
}

#[test]
#[ignore = "needs java and maven for tests/cluster/zookeeper.sh"]
fn a_tree_is_marked_once_and_only_its_owner_removes_it() {
    let zk = ZooKeeper::start("owner");
    let a = &zk.address;
    let (one, two) = (who("uid-1", Some(0)), who("uid-2", Some(0)));
    assert_eq!(block(claim(a, "/ecs/ecs", &one, T)).unwrap(), Ownership::Ours);
    // Marking again (an operator restarted) keeps it; another cluster of the name does not get it.
    assert_eq!(block(claim(a, "/ecs/ecs", &one, T)).unwrap(), Ownership::Ours);
    match block(claim(a, "/ecs/ecs", &two, T)).unwrap() {
        Ownership::Other(mark) => assert!(mark.contains("uid-1 ns-uid-1/ecs"), "{mark}"),
        other => panic!("expected another owner, got {other:?}"),
    }
    block(async {
        let mut s = Session::connect(a, T).await.unwrap();
        s.create_all("/ecs/ecs/controller/streams/s1", b"x").await.unwrap();
        assert_eq!(s.node("/ecs/ecs").await.unwrap().unwrap().data, marker("uid-1", "ns-uid-1/ecs"));
        s.close().await;
    });
    // The other cluster's deletion leaves the tree; the owner's removes it.
    let trees = ["/ecs/ecs".to_string()];
    let refused = block(remove_if_ours(a, "/ecs/ecs", &two, &trees, T)).unwrap();
    assert!(matches!(refused, Cleaned::NotOurs(Ownership::Other(_))), "{refused:?}");
    let kept = block(async {
        let mut s = Session::connect(a, T).await.unwrap();
        let kept = s.exists("/ecs/ecs/controller/streams/s1").await.unwrap();
        s.close().await;
        kept
    });
    assert!(kept, "another cluster's tree must stay");
    let removed = block(remove_if_ours(a, "/ecs/ecs", &one, &trees, T)).unwrap();
    let Cleaned::Removed(removed) = removed else { panic!("the owner's removal was refused: {removed:?}") };
    assert_eq!(removed.trees, [("/ecs/ecs".to_string(), 4)]);
    assert_eq!(block(claim(a, "/ecs/ecs", &two, T)).unwrap(), Ownership::Ours, "gone, so free again");
}

#[test]
#[ignore = "needs java and maven for tests/cluster/zookeeper.sh"]
fn an_unmarked_tree_is_adopted_only_by_a_cluster_older_than_it() {
    let zk = ZooKeeper::start("adopt");
    let a = &zk.address;
    let before = now_ms() - 60_000;
    block(async {
        let mut s = Session::connect(a, T).await.unwrap();
        // Made by the components (or an operator without marks): the root carries no data.
        s.create_all("/ecs/young/bookkeeper/ledgers", b"").await.unwrap();
        s.create_all("/ecs/old/bookkeeper/ledgers", b"").await.unwrap();
        let old = who("uid-late", Some(now_ms() + 60_000));
        match ownership(&mut s, "/ecs/old", &old).await.unwrap() {
            Ownership::Unmarked { created_ms } => assert!(created_ms >= before, "{created_ms}"),
            other => panic!("a tree older than the cluster was not refused: {other:?}"),
        }
        assert_eq!(s.node("/ecs/old").await.unwrap().unwrap().data, b"", "untouched");
        // A twin in sight: no adoption at all.
        assert!(matches!(
            ownership(&mut s, "/ecs/young", &who("uid-y", None)).await.unwrap(),
            Ownership::Unmarked { .. }
        ));
        let young = who("uid-y", Some(before));
        assert_eq!(ownership(&mut s, "/ecs/young", &young).await.unwrap(), Ownership::Ours);
        assert_eq!(s.node("/ecs/young").await.unwrap().unwrap().data, marker("uid-y", "ns-uid-y/ecs"));
        assert!(matches!(
            ownership(&mut s, "/ecs/young", &who("uid-z", Some(before))).await.unwrap(),
            Ownership::Other(_)
        ));
        assert_eq!(ownership(&mut s, "/ecs/none", &young).await.unwrap(), Ownership::Absent);
        s.close().await;
    });
}
