//! The runtime protocol's framing and first messages (specification: `docs/agents.md`).
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of **canonical JSON**
//! ([`crate::canon`]): one object `{"type": T, "payload": {…}}` with an optional `"id"` string
//! reserved for request/response correlation (tool calls, streaming and cancellation will use
//! it). A frame longer than [`MAX_FRAME`], bytes that are not strict JSON, or JSON that is not
//! byte-for-byte canonical is a protocol error: the reader refuses it and the connection closes.
//!
//! Messages of protocol 1: `agent.hello {session_token, agent_id, protocol}` (agent → core),
//! `core.welcome {run_id, heartbeat_interval_ms}` (core → agent), `agent.heartbeat {}`
//! (agent → core) and `core.error {code, message}` (core → agent, before closing).

use std::io::{self, Read, Write};

use serde_json::{Map, Value};

use crate::canon;

/// The largest frame body, in bytes.
pub const MAX_FRAME: usize = 1 << 20;
/// The protocol version this core speaks.
pub const PROTOCOL: u64 = 1;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection at a frame boundary.
    #[error("the connection closed")]
    Closed,
    /// Reading failed (including a timeout).
    #[error("cannot read a frame: {0}")]
    Io(#[from] io::Error),
    /// The length prefix exceeds [`MAX_FRAME`].
    #[error("frame of {0} bytes is larger than the {MAX_FRAME}-byte limit")]
    TooLarge(u32),
    /// The body is not a strict JSON object in canonical form, or not a message.
    #[error("bad frame: {0}")]
    Invalid(String),
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `agent.hello`, `core.welcome`, …
    pub kind: String,
    /// Correlation id, when given.
    pub id: Option<String>,
    /// The payload object.
    pub payload: Map<String, Value>,
}

impl Message {
    /// A message without an id.
    pub fn new(kind: &str, payload: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            id: None,
            payload: match payload {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }

    /// The canonical bytes of this message.
    pub fn to_bytes(&self) -> Result<Vec<u8>, canon::CanonError> {
        let mut m = Map::new();
        m.insert("type".into(), Value::from(self.kind.clone()));
        if let Some(id) = &self.id {
            m.insert("id".into(), Value::from(id.clone()));
        }
        m.insert("payload".into(), Value::Object(self.payload.clone()));
        canon::to_bytes(&Value::Object(m))
    }

    fn from_object(mut m: Map<String, Value>) -> Result<Self, FrameError> {
        let bad = |s: &str| Err(FrameError::Invalid(s.to_owned()));
        if m.keys()
            .any(|k| !matches!(k.as_str(), "type" | "id" | "payload"))
        {
            return bad("a message has only `type`, `id` and `payload`");
        }
        let Some(Value::String(kind)) = m.remove("type") else {
            return bad("`type` must be a string");
        };
        let id = match m.remove("id") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return bad("`id` must be a string"),
        };
        let payload = match m.remove("payload") {
            None => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return bad("`payload` must be an object"),
        };
        Ok(Self { kind, id, payload })
    }

    /// A string field of the payload.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }
}

/// Write one frame.
pub fn write_frame(w: &mut impl Write, msg: &Message) -> io::Result<()> {
    let body = msg.to_bytes().map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::other(format!(
            "frame of {} bytes is larger than the {MAX_FRAME}-byte limit",
            body.len()
        )));
    }
    let len = u32::try_from(body.len()).map_err(io::Error::other)?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf)?;
    w.flush()
}

/// Read one frame, refusing oversize, non-JSON and non-canonical bodies.
pub fn read_frame(r: &mut impl Read) -> Result<Message, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => {
                return Err(FrameError::Invalid(
                    "the connection closed inside a length prefix".into(),
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let n = u32::from_be_bytes(len);
    if n as usize > MAX_FRAME {
        return Err(FrameError::TooLarge(n));
    }
    let mut body = vec![0u8; n as usize];
    r.read_exact(&mut body)?;
    let obj = canon::parse_object(&body).map_err(|e| FrameError::Invalid(e.to_string()))?;
    let again = canon::to_bytes(&Value::Object(obj.clone()))
        .map_err(|e| FrameError::Invalid(e.to_string()))?;
    if again != body {
        return Err(FrameError::Invalid(
            "the frame is not canonical JSON".into(),
        ));
    }
    Message::from_object(obj)
}

/// Compare two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Check an `agent.hello` against the run: the right token, the right agent id, protocol 1.
/// The reason never contains the token.
pub fn check_hello(msg: &Message, token: &str, agent_id: &str) -> Result<(), String> {
    if msg.kind != "agent.hello" {
        return Err(format!(
            "the first message must be `agent.hello`, not `{}`",
            crate::report::escape_for_display(&msg.kind)
        ));
    }
    let presented = msg.str("session_token").unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), token.as_bytes()) {
        return Err("wrong session token".into());
    }
    if msg.str("agent_id") != Some(agent_id) {
        return Err("the hello names another agent id".into());
    }
    match msg.payload.get("protocol").and_then(Value::as_u64) {
        Some(PROTOCOL) => Ok(()),
        _ => Err(format!(
            "unsupported protocol (this core speaks {PROTOCOL})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_refuse_bad_bodies() {
        let msg = Message::new(
            "core.welcome",
            serde_json::json!({"run_id": "r", "heartbeat_interval_ms": 5000}),
        );
        let mut buf = Vec::new();
        write_frame(&mut buf, &msg).unwrap();
        assert_eq!(
            &buf[..4],
            &u32::try_from(buf.len() - 4).unwrap().to_be_bytes()
        );
        assert_eq!(read_frame(&mut buf.as_slice()).unwrap(), msg);
        let frame = |body: &[u8]| {
            let mut v = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
            v.extend_from_slice(body);
            read_frame(&mut v.as_slice())
        };
        assert!(
            matches!(frame(br#"{"type": "x"}"#), Err(FrameError::Invalid(_))),
            "not canonical"
        );
        assert!(matches!(
            frame(br#"{"type":"x","type":"y"}"#),
            Err(FrameError::Invalid(_))
        ));
        assert!(matches!(
            frame(br#"{"extra":1,"type":"x"}"#),
            Err(FrameError::Invalid(_))
        ));
        assert!(frame(br#"{"payload":{},"type":"agent.heartbeat"}"#).is_ok());
        let big = (u32::try_from(MAX_FRAME).unwrap() + 1).to_be_bytes();
        assert!(matches!(
            read_frame(&mut big.as_slice()),
            Err(FrameError::TooLarge(_))
        ));
        assert!(matches!(
            read_frame(&mut [].as_slice()),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn hello_needs_the_token_the_id_and_protocol_1() {
        let hello = |tok: &str, id: &str, p: u64| {
            Message::new(
                "agent.hello",
                serde_json::json!({"session_token": tok, "agent_id": id, "protocol": p}),
            )
        };
        assert!(check_hello(&hello("t0k", "a", 1), "t0k", "a").is_ok());
        let e = check_hello(&hello("bad", "a", 1), "t0k", "a").unwrap_err();
        assert!(!e.contains("t0k"));
        assert!(check_hello(&hello("t0k", "b", 1), "t0k", "a").is_err());
        assert!(check_hello(&hello("t0k", "a", 2), "t0k", "a").is_err());
    }
}
