//! The few ZooKeeper requests the operator sends, in ZooKeeper's wire format (jute: big-endian
//! integers, length-prefixed strings and buffers, every message framed by its length).

/// Request types (`ZooDefs.OpCode`).
pub mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_CHILDREN: i32 = 8;
    pub const CLOSE: i32 = -11;
}

/// Server error codes (`KeeperException.Code`) the operator tells apart.
pub mod code {
    pub const NO_NODE: i32 = -101;
    pub const NO_AUTH: i32 = -102;
    pub const BAD_VERSION: i32 = -103;
    pub const NODE_EXISTS: i32 = -110;
    pub const NOT_EMPTY: i32 = -111;
}

/// The name of a server error code, for messages.
pub fn code_name(code: i32) -> &'static str {
    match code {
        -4 => "ConnectionLoss",
        -5 => "MarshallingError",
        -6 => "Unimplemented",
        -7 => "OperationTimeout",
        -8 => "BadArguments",
        -100 => "APIError",
        code::NO_NODE => "NoNode",
        code::NO_AUTH => "NoAuth",
        code::BAD_VERSION => "BadVersion",
        -108 => "NoChildrenForEphemerals",
        code::NODE_EXISTS => "NodeExists",
        code::NOT_EMPTY => "NotEmpty",
        -112 => "SessionExpired",
        -114 => "InvalidACL",
        -115 => "AuthFailed",
        _ => "Unknown",
    }
}

/// A message being written.
#[derive(Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// This message followed by `rest`.
    pub fn then(mut self, rest: Writer) -> Self {
        self.0.extend(rest.0);
        self
    }
    pub fn int(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn long(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn boolean(mut self, v: bool) -> Self {
        self.0.push(u8::from(v));
        self
    }
    pub fn buffer(self, v: &[u8]) -> Self {
        let mut w = self.int(v.len() as i32);
        w.0.extend_from_slice(v);
        w
    }
    pub fn string(self, v: &str) -> Self {
        self.buffer(v.as_bytes())
    }
    /// The message with its length in front.
    pub fn framed(self) -> Vec<u8> {
        let mut out = (self.0.len() as i32).to_be_bytes().to_vec();
        out.extend(self.0);
        out
    }
}

/// A message being read; every read is bounds-checked (a reply is untrusted input).
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader(bytes)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("reply ends early: wanted {n} more bytes, {} left", self.0.len()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    pub fn int(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    pub fn long(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    pub fn buffer(&mut self) -> Result<&'a [u8], String> {
        let len = self.int()?;
        if len < 0 {
            return Ok(&[]);
        }
        self.take(len as usize)
    }
    pub fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.buffer()?.to_vec()).map_err(|e| format!("a name is not UTF-8: {e}"))
    }
    pub fn strings(&mut self) -> Result<Vec<String>, String> {
        let n = self.int()?;
        // Each string takes at least its 4-byte length: a count larger than that is a lie.
        if n < 0 || n as usize > self.0.len() / 4 {
            return Err(format!("reply claims {n} names in {} bytes", self.0.len()));
        }
        (0..n).map(|_| self.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let framed = Writer::default().int(-7).long(1 << 40).boolean(true).string("/ecs/a").framed();
        assert_eq!(&framed[..4], &(4 + 8 + 1 + 4 + 6i32).to_be_bytes());
        let mut r = Reader::new(&framed[4..]);
        assert_eq!(r.int().unwrap(), -7);
        assert_eq!(r.long().unwrap(), 1 << 40);
        assert_eq!(r.take(1).unwrap(), [1]);
        assert_eq!(r.string().unwrap(), "/ecs/a");
        assert!(r.int().is_err());
    }

    #[test]
    fn a_lying_reply_is_refused() {
        let bytes = Writer::default().int(1_000_000).framed();
        assert!(Reader::new(&bytes[4..]).strings().unwrap_err().contains("claims"));
        let bytes = Writer::default().int(1).int(50).framed();
        assert!(Reader::new(&bytes[4..]).strings().unwrap_err().contains("ends early"));
    }
}
