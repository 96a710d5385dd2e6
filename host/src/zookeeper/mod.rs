//! Removing a deleted cluster's ZooKeeper tree. Only the host talks to ZooKeeper (plugins have no
//! network): the reconcilers declare the trees (`cleanup` in their plans, checked by the output
//! policy to lie within `/ecs/<cluster>`), and [`remove_trees`] deletes them, depth first.
//!
//! Deletion could remove another cluster's tree of the same name: [`ownership`] marks each tree
//! with its cluster's UID, and [`remove_if_ours`] removes only a tree that carries the mark.
//!
//! The client is the handful of requests this needs (connect, list children, read and write data,
//! create, delete, exists), written against tokio: a general ZooKeeper crate would bring its own
//! runtime, threads and watch machinery into an operator that only ever marks and deletes a tree.

mod ownership;
mod wire;

pub use ownership::{Claimant, Cleaned, Ownership, claim, marker, ownership, remove_if_ours};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wire::{Reader, Writer, code, op};

/// Longest reply accepted (ZooKeeper's own `jute.maxbuffer` default is 1 MiB).
const MAX_REPLY: usize = 16 << 20;
/// Session timeout asked for; every request keeps the session alive.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// Concurrent creates of children under a tree being deleted: retried this often before giving up.
const NOT_EMPTY_RETRIES: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("invalid ZooKeeper address {0:?}: expected host:port[,host:port...][/chroot]")]
    Address(String),
    #[error("could not reach ZooKeeper at {servers}: {reason}")]
    Unreachable { servers: String, reason: String },
    #[error("ZooKeeper {op} {path}: {name} ({code})")]
    Server { op: &'static str, path: String, code: i32, name: &'static str },
    #[error("ZooKeeper {op} {path} timed out after {seconds} s")]
    Timeout { op: &'static str, path: String, seconds: u64 },
    #[error("ZooKeeper connection: {0}")]
    Connection(String),
    #[error("{path} kept getting new children while it was being deleted")]
    Busy { path: String },
}

impl ZkError {
    pub(crate) fn is(&self, wanted: i32) -> bool {
        matches!(self, ZkError::Server { code, .. } if *code == wanted)
    }
}

/// A connection string: servers and an optional chroot every path is under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub servers: Vec<String>,
    pub chroot: String,
}

impl Address {
    pub fn parse(s: &str) -> Result<Address, ZkError> {
        let bad = || ZkError::Address(s.to_string());
        let (hosts, chroot) = match s.find('/') {
            Some(i) => (&s[..i], s[i..].trim_end_matches('/')),
            None => (s, ""),
        };
        let servers: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| {
                if h.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
                    h.to_string()
                } else {
                    format!("{h}:2181")
                }
            })
            .collect();
        let bad_chroot =
            chroot.split('/').skip(1).any(|segment| segment.is_empty() || segment == "." || segment == "..");
        if servers.is_empty() || bad_chroot || servers.iter().any(|h| h.starts_with(':')) {
            return Err(bad());
        }
        Ok(Address { servers, chroot: chroot.to_string() })
    }

    fn full(&self, path: &str) -> String {
        if path == "/" && !self.chroot.is_empty() { self.chroot.clone() } else { format!("{}{path}", self.chroot) }
    }
}

/// A znode as read: its data, data version and creation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub data: Vec<u8>,
    pub version: i32,
    /// Milliseconds since the epoch, by the server's clock.
    pub created_ms: i64,
}

impl Node {
    /// A GET_DATA reply: the data, then the node's `Stat`.
    fn read(reply: &[u8]) -> Result<Node, String> {
        let mut r = Reader::new(reply);
        let data = r.buffer()?.to_vec();
        let _created_zxid = r.long()?;
        let _modified_zxid = r.long()?;
        let created_ms = r.long()?;
        let _modified_ms = r.long()?;
        let version = r.int()?;
        Ok(Node { data, version, created_ms })
    }
}

/// One ZooKeeper session.
pub struct Session {
    stream: TcpStream,
    address: Address,
    xid: i32,
    timeout: Duration,
}

impl Session {
    /// Connects to the first server of `address` that answers, each within `timeout`.
    pub async fn connect(address: &str, timeout: Duration) -> Result<Session, ZkError> {
        let address = Address::parse(address)?;
        let mut reasons = Vec::new();
        for server in &address.servers {
            match tokio::time::timeout(timeout, handshake(server, timeout)).await {
                Ok(Ok(stream)) => return Ok(Session { stream, address, xid: 0, timeout }),
                Ok(Err(reason)) => reasons.push(format!("{server}: {reason}")),
                Err(_) => reasons.push(format!("{server}: no answer within {} s", timeout.as_secs())),
            }
        }
        Err(ZkError::Unreachable { servers: address.servers.join(","), reason: reasons.join("; ") })
    }

    async fn call(&mut self, op_name: &'static str, kind: i32, path: &str, body: Writer) -> Result<Vec<u8>, ZkError> {
        self.xid += 1;
        let xid = self.xid;
        let request = Writer::default().int(xid).int(kind).then(body);
        let exchange = async {
            self.stream.write_all(&request.framed()).await.map_err(|e| ZkError::Connection(e.to_string()))?;
            loop {
                let reply = read_frame(&mut self.stream).await.map_err(ZkError::Connection)?;
                let mut r = Reader::new(&reply);
                let reply_xid = r.int().map_err(ZkError::Connection)?;
                let _zxid = r.long().map_err(ZkError::Connection)?;
                let err = r.int().map_err(ZkError::Connection)?;
                // Watch notifications (-1) and pings (-2) are not this request's answer.
                if reply_xid != xid {
                    continue;
                }
                if err != 0 {
                    return Err(ZkError::Server {
                        op: op_name,
                        path: path.to_string(),
                        code: err,
                        name: wire::code_name(err),
                    });
                }
                return Ok(reply[16..].to_vec());
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ZkError::Timeout { op: op_name, path: path.to_string(), seconds: self.timeout.as_secs() }),
        }
    }

    /// The names of `path`'s children.
    pub async fn children(&mut self, path: &str) -> Result<Vec<String>, ZkError> {
        let full = self.address.full(path);
        let reply = self.call("list", op::GET_CHILDREN, path, Writer::default().string(&full).boolean(false)).await?;
        Reader::new(&reply).strings().map_err(ZkError::Connection)
    }

    /// Deletes `path` (any version).
    pub async fn delete(&mut self, path: &str) -> Result<(), ZkError> {
        let full = self.address.full(path);
        self.call("delete", op::DELETE, path, Writer::default().string(&full).int(-1)).await.map(drop)
    }

    /// Whether `path` exists.
    pub async fn exists(&mut self, path: &str) -> Result<bool, ZkError> {
        let full = self.address.full(path);
        match self.call("exists", op::EXISTS, path, Writer::default().string(&full).boolean(false)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is(code::NO_NODE) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `path`'s data, version and creation time, or `None` when it does not exist.
    pub async fn node(&mut self, path: &str) -> Result<Option<Node>, ZkError> {
        let full = self.address.full(path);
        match self.call("read", op::GET_DATA, path, Writer::default().string(&full).boolean(false)).await {
            Ok(reply) => Node::read(&reply).map(Some).map_err(ZkError::Connection),
            Err(e) if e.is(code::NO_NODE) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces `path`'s data if its data version is still `version` (else `BadVersion`).
    pub async fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> Result<(), ZkError> {
        let full = self.address.full(path);
        let body = Writer::default().string(&full).buffer(data).int(version);
        self.call("write", op::SET_DATA, path, body).await.map(drop)
    }

    /// Creates `path` (persistent, open to all) and any missing parents; an existing node is kept.
    pub async fn create_all(&mut self, path: &str, data: &[u8]) -> Result<(), ZkError> {
        let mut at = String::new();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for (i, segment) in segments.iter().enumerate() {
            at.push('/');
            at.push_str(segment);
            let full = self.address.full(&at);
            let payload = if i + 1 == segments.len() { data } else { &[] };
            // ACL: all permissions for world:anyone.
            let body =
                Writer::default().string(&full).buffer(payload).int(1).int(31).string("world").string("anyone").int(0);
            match self.call("create", op::CREATE, &at, body).await {
                Ok(_) => {}
                Err(e) if e.is(code::NODE_EXISTS) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Deletes `path` and everything below it, depth first; returns how many nodes it deleted.
    /// A tree that is already gone is not an error.
    pub async fn delete_tree(&mut self, path: &str) -> Result<usize, ZkError> {
        let mut deleted = 0;
        let mut retries = 0;
        // (path, whether its children were already pushed)
        let mut stack = vec![(path.to_string(), false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                match self.delete(&node).await {
                    Ok(()) => deleted += 1,
                    Err(e) if e.is(code::NO_NODE) => {}
                    Err(e) if e.is(code::NOT_EMPTY) && retries < NOT_EMPTY_RETRIES => {
                        retries += 1;
                        stack.push((node, false));
                    }
                    Err(e) if e.is(code::NOT_EMPTY) => return Err(ZkError::Busy { path: node }),
                    Err(e) => return Err(e),
                }
                continue;
            }
            match self.children(&node).await {
                Ok(children) => {
                    stack.push((node.clone(), true));
                    let base = node.trim_end_matches('/');
                    stack.extend(children.into_iter().map(|c| (format!("{base}/{c}"), false)));
                }
                Err(e) if e.is(code::NO_NODE) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// Ends the session (its ephemeral nodes go at once rather than at the timeout).
    pub async fn close(mut self) {
        let _ = self.call("close", op::CLOSE, "", Writer::default()).await;
    }
}

async fn read_frame(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(|e| e.to_string())?;
    let len = i32::from_be_bytes(len);
    if len < 0 || len as usize > MAX_REPLY {
        return Err(format!("reply of {len} bytes refused (at most {MAX_REPLY})"));
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Opens a TCP connection and a new session on it.
async fn handshake(server: &str, timeout: Duration) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(server).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let request = Writer::default()
        .int(0) // protocol version
        .long(0) // last zxid seen
        .int(SESSION_TIMEOUT_MS.min(timeout.as_millis() as i32 * 4).max(4000))
        .long(0) // session id: a new session
        .buffer(&[0u8; 16]) // password
        .boolean(false) // read-only not allowed
        .framed();
    stream.write_all(&request).await.map_err(|e| e.to_string())?;
    let reply = read_frame(&mut stream).await?;
    let mut r = Reader::new(&reply);
    let _protocol = r.int()?;
    let negotiated = r.int()?;
    if negotiated <= 0 {
        return Err("the server refused the session".to_string());
    }
    Ok(stream)
}

/// What [`remove_trees`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Nodes deleted, per tree.
    pub trees: Vec<(String, usize)>,
}

/// Deletes each tree (a tree inside another one listed is covered by it) on `address`.
pub async fn remove_trees(address: &str, trees: &[String], timeout: Duration) -> Result<Removed, ZkError> {
    let mut session = Session::connect(address, timeout).await?;
    let removed = delete_trees(&mut session, trees).await;
    session.close().await;
    removed
}

/// Deletes each tree, skipping those inside another one listed.
async fn delete_trees(session: &mut Session, trees: &[String]) -> Result<Removed, ZkError> {
    let mut roots: Vec<&String> = trees.iter().collect();
    roots.sort();
    roots.dedup();
    let covered = |p: &String, roots: &[&String]| {
        roots.iter().any(|r| *r != p && p.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with('/')))
    };
    let roots: Vec<&String> = roots.iter().copied().filter(|p| !covered(p, &roots)).collect();
    let mut removed = Removed::default();
    for root in roots {
        let n = session.delete_tree(root).await?;
        removed.trees.push((root.clone(), n));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = Address::parse("zk-0.zk:2181,zk-1.zk/apps").unwrap();
        assert_eq!(a.servers, ["zk-0.zk:2181", "zk-1.zk:2181"]);
        assert_eq!(a.chroot, "/apps");
        assert_eq!(a.full("/ecs/x"), "/apps/ecs/x");
        assert_eq!(a.full("/"), "/apps");
        let plain = Address::parse("127.0.0.1:2999").unwrap();
        assert_eq!(plain.full("/ecs"), "/ecs");
        for bad in ["", ",", "/chroot", ":2181", "h//x", "h/a/../b", "h/./x"] {
            assert!(Address::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn unreachable_servers_are_named() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err =
            remove_trees(&format!("127.0.0.1:{port}"), &["/ecs/x".into()], Duration::from_secs(2)).await.unwrap_err();
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    }
}
