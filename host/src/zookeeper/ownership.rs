//! Which cluster a tree `/ecs/<name>` belongs to. Its path names the cluster but not its namespace
//! (the components choose it), so two clusters of one name on one ZooKeeper (in two namespaces, or
//! a tenant pointing at another's ZooKeeper) would share it, and deleting either would remove the
//! other's metadata. So the operator marks the root with the cluster's UID as soon as it can (after
//! an apply), and on deletion removes a tree only if it carries that cluster's mark.
//!
//! A root without a mark is adopted only if ZooKeeper created it after the cluster was created (the
//! cluster's components created it before the operator could mark it, or the cluster predates the
//! marks): a tree older than the cluster cannot be its own.

use super::{Node, Removed, Session, ZkError, code, delete_trees};
use std::fmt;
use std::time::Duration;

const PREFIX: &str = "ecs-operator cluster ";
/// Attempts to adopt an unmarked root while others write it at the same time.
const ADOPT_ATTEMPTS: usize = 3;

/// Who a tree's root says it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The root does not exist.
    Absent,
    /// The root carries this cluster's mark.
    Ours,
    /// The root carries no mark, and this cluster may not adopt it.
    Unmarked { created_ms: i64 },
    /// The root carries something else: another cluster's mark, or data that is no mark.
    Other(String),
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ownership::Absent => write!(f, "does not exist"),
            Ownership::Ours => write!(f, "is this cluster's"),
            Ownership::Unmarked { created_ms } => {
                let at = k8s_openapi::jiff::Timestamp::from_millisecond(*created_ms)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| format!("{created_ms} ms"));
                write!(f, "carries no owner mark and was created at {at}, before this cluster could claim it")
            }
            Ownership::Other(data) => write!(f, "is marked as another's: {data:?}"),
        }
    }
}

/// The cluster asking.
#[derive(Clone, Debug)]
pub struct Claimant {
    pub uid: String,
    /// `namespace/name`, for people reading the mark.
    pub cluster: String,
    /// An unmarked root created at or after this time (ms since the epoch) is adopted; `None`
    /// adopts none (another cluster of the same name is known to use this ZooKeeper).
    pub adopt_from_ms: Option<i64>,
}

/// The mark a cluster leaves as its tree root's data.
pub fn marker(uid: &str, cluster: &str) -> Vec<u8> {
    format!("{PREFIX}{uid} {cluster}").into_bytes()
}

/// The UID a mark names.
fn marked_uid(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(data).ok()?;
    text.strip_prefix(PREFIX)?.split(' ').next().filter(|uid| !uid.is_empty())
}

enum Verdict {
    Settled(Ownership),
    /// Write the mark over the root's data at this version.
    Adopt(i32),
}

/// Whose `node` is, for the cluster `uid`.
fn settle(node: Option<&Node>, uid: &str) -> Ownership {
    match node {
        None => Ownership::Absent,
        Some(node) if node.data.is_empty() => Ownership::Unmarked { created_ms: node.created_ms },
        Some(node) => match marked_uid(&node.data) {
            Some(marked) if marked == uid => Ownership::Ours,
            _ => Ownership::Other(printable(&node.data)),
        },
    }
}

fn judge(node: Option<&Node>, who: &Claimant) -> Verdict {
    match (settle(node, &who.uid), node) {
        (Ownership::Unmarked { created_ms }, Some(node))
            if who.adopt_from_ms.is_some_and(|from| created_ms >= from) =>
        {
            Verdict::Adopt(node.version)
        }
        (ownership, _) => Verdict::Settled(ownership),
    }
}

/// At most 120 characters of `data`, without control characters (it goes into Events and logs).
fn printable(data: &[u8]) -> String {
    String::from_utf8_lossy(data).chars().map(|c| if c.is_control() { '?' } else { c }).take(120).collect()
}

/// Who `root` belongs to, adopting it if it is unmarked and young enough.
pub async fn ownership(session: &mut Session, root: &str, who: &Claimant) -> Result<Ownership, ZkError> {
    for _ in 0..ADOPT_ATTEMPTS {
        let node = session.node(root).await?;
        match judge(node.as_ref(), who) {
            Verdict::Settled(ownership) => return Ok(ownership),
            Verdict::Adopt(version) => match session.set_data(root, &marker(&who.uid, &who.cluster), version).await {
                Ok(()) => return Ok(Ownership::Ours),
                // Someone wrote it meanwhile (another operator's mark?): read it again.
                Err(e) if e.is(code::BAD_VERSION) || e.is(code::NO_NODE) => continue,
                Err(e) => return Err(e),
            },
        }
    }
    Ok(settle(session.node(root).await?.as_ref(), &who.uid))
}

/// Marks `root` (created with its parents if missing) as the tree of `who`, and says whose it is.
pub async fn claim(address: &str, root: &str, who: &Claimant, timeout: Duration) -> Result<Ownership, ZkError> {
    let mut session = Session::connect(address, timeout).await?;
    let result = async {
        session.create_all(root, &marker(&who.uid, &who.cluster)).await?;
        ownership(&mut session, root, who).await
    }
    .await;
    session.close().await;
    result
}

/// What [`remove_if_ours`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Cleaned {
    /// The trees were removed (or were absent).
    Removed(Removed),
    /// The root is not the cluster's: nothing was touched.
    NotOurs(Ownership),
}

/// Removes `trees` (all within `root`) if `root` is `who`'s or absent.
pub async fn remove_if_ours(
    address: &str,
    root: &str,
    who: &Claimant,
    trees: &[String],
    timeout: Duration,
) -> Result<Cleaned, ZkError> {
    let mut session = Session::connect(address, timeout).await?;
    let result = async {
        match ownership(&mut session, root, who).await? {
            Ownership::Ours | Ownership::Absent => delete_trees(&mut session, trees).await.map(Cleaned::Removed),
            other => Ok(Cleaned::NotOurs(other)),
        }
    }
    .await;
    session.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(data: &[u8], created_ms: i64) -> Node {
        Node { data: data.to_vec(), version: 0, created_ms }
    }

    fn who(adopt_from_ms: Option<i64>) -> Claimant {
        Claimant { uid: "u-1".into(), cluster: "a/ecs".into(), adopt_from_ms }
    }

    fn settled(node: Option<&Node>, who: &Claimant) -> Option<Ownership> {
        match judge(node, who) {
            Verdict::Settled(o) => Some(o),
            Verdict::Adopt(_) => None,
        }
    }

    #[test]
    fn a_root_is_ours_only_with_our_uid() {
        let w = who(Some(0));
        assert_eq!(settled(None, &w), Some(Ownership::Absent));
        assert_eq!(settled(Some(&node(&marker("u-1", "a/ecs"), 5)), &w), Some(Ownership::Ours));
        // The name part is for people: the UID decides (the same UID is the same cluster).
        assert_eq!(settled(Some(&node(b"ecs-operator cluster u-1 b/x", 5)), &w), Some(Ownership::Ours));
        for data in
            [&b"ecs-operator cluster u-10 a/ecs"[..], b"ecs-operator cluster u-2", b"ecs-operator cluster ", b"u-1"]
        {
            assert!(matches!(settled(Some(&node(data, 5)), &w), Some(Ownership::Other(_))), "{data:?}");
        }
    }

    #[test]
    fn an_unmarked_root_is_adopted_only_if_younger_than_the_cluster() {
        assert!(settled(Some(&node(b"", 1000)), &who(Some(1000))).is_none(), "created with the cluster: adopted");
        assert_eq!(settled(Some(&node(b"", 999)), &who(Some(1000))), Some(Ownership::Unmarked { created_ms: 999 }));
        assert_eq!(settled(Some(&node(b"", 5000)), &who(None)), Some(Ownership::Unmarked { created_ms: 5000 }));
    }

    #[test]
    fn foreign_data_is_shown_safely() {
        let o = settled(Some(&node(b"evil\n\x1b[31mred", 0)), &who(None)).unwrap();
        assert_eq!(o.to_string(), "is marked as another's: \"evil??[31mred\"");
        let long = settled(Some(&node(&[b'x'; 500], 0)), &who(None)).unwrap();
        assert!(matches!(long, Ownership::Other(ref s) if s.len() == 120));
        let unmarked = Ownership::Unmarked { created_ms: 1_764_633_600_000 };
        assert!(unmarked.to_string().contains("2025-12-02T00:00:00Z"), "{unmarked}");
    }
}
