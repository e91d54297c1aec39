//! WebSockets (RFC 6455): the opening handshake, the frames, the close
//! codes, and messages put back together from their fragments.
//!
//! ```text
//! GET /chat HTTP/1.1            ──▶   HTTP/1.1 101 Switching Protocols
//! Upgrade: websocket                  Upgrade: websocket
//! Connection: Upgrade                 Connection: Upgrade
//! Sec-WebSocket-Key: <16 bytes>       Sec-WebSocket-Accept: base64(SHA-1(key + GUID))
//! Sec-WebSocket-Version: 13
//!                     … then frames, both ways, on the same connection:
//! ┌─┬───┬──────┬─┬───────┬──────────┬──────────┬─────────────┐
//! │F│RSV│opcode│M│len (7)│len 16/64 │mask key  │payload      │
//! └─┴───┴──────┴─┴───────┴──────────┴──────────┴─────────────┘
//! ```
//!
//! Written here by hand rather than with tungstenite, because the frame
//! *is* the lesson: the trace shows each frame's FIN bit, opcode, mask and
//! which of the three length forms carried it, and a protocol error is
//! shown as the rule it broke and the close code it earns. tungstenite
//! parses and hides exactly those fields. The codec is small (no
//! extensions, no compression: `permessage-deflate` is not offered), and a
//! property test holds it to encode ∘ parse = identity.
//!
//! * [`handshake`]: the upgrade request checked, the accept key computed.
//! * [`frame`]: one frame to and from bytes (§5.2), masking (§5.3).
//! * [`close`]: close codes (§7.4) and the close frame's payload (§5.5.1).
//! * [`message`]: fragments to messages (§5.4), control frames between.
//!
//! Book: "WebSockets" (book/src/websockets.md).

pub mod close;
pub mod frame;
pub mod handshake;
pub mod message;

pub use close::CloseCode;
pub use frame::{Frame, FrameError, LengthForm, Opcode, Role};
pub use handshake::{Accept, HandshakeError, Upgrade};
pub use message::{Assembler, WsMessage};
