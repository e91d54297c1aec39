//! Property tests for the WebSocket frame codec (RFC 6455 §5): arbitrary
//! bytes never panic the parser, every frame parses back to itself from
//! any split of its bytes, and fragments reassemble to the message.

use proptest::prelude::*;
use roundtrip::http::ws::frame::{Frame, LengthForm, Opcode, Parsed, Role, parse};
use roundtrip::http::ws::message::{Assembler, WsMessage, fragments};

fn opcode() -> impl Strategy<Value = Opcode> {
    prop_oneof![
        Just(Opcode::Continuation),
        Just(Opcode::Text),
        Just(Opcode::Binary),
        Just(Opcode::Close),
        Just(Opcode::Ping),
        Just(Opcode::Pong),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_frame_parser(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        server in any::<bool>(),
        max in prop_oneof![Just(0u64), Just(125), Just(1 << 16), Just(u64::MAX)],
    ) {
        let role = if server { Role::Server } else { Role::Client };
        if let Ok(Parsed::Complete { consumed, frame }) = parse(&bytes, role, max) {
            prop_assert!(consumed <= bytes.len());
            prop_assert!(frame.payload.len() as u64 <= max);
        }
    }

    #[test]
    fn an_encoded_frame_parses_back_to_itself_however_its_bytes_are_split(
        op in opcode(),
        fin in any::<bool>(),
        payload in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..=125),
            proptest::collection::vec(any::<u8>(), 126..70_000),
        ],
        key in proptest::option::of(any::<[u8; 4]>()),
        split in any::<prop::sample::Index>(),
    ) {
        // Control frames are whole and short; data frames may be anything.
        let (fin, payload) = if op.is_control() { (true, payload[..payload.len().min(125)].to_vec()) } else { (fin, payload) };
        let mut frame = Frame::new(op, payload).fin(fin);
        if let Some(k) = key { frame = frame.masked(k); }
        let role = if key.is_some() { Role::Server } else { Role::Client };
        let wire = frame.encode();
        prop_assert_eq!(wire.len(), frame.header_len() + frame.payload.len());
        let cut = split.index(wire.len());
        prop_assert_eq!(parse(&wire[..cut], role, u64::MAX), Ok(Parsed::Partial));
        let mut more = wire.clone();
        more.extend_from_slice(b"next frame");
        let back = parse(&more, role, u64::MAX);
        prop_assert_eq!(back, Ok(Parsed::Complete { frame: frame.clone(), consumed: wire.len() }));
        prop_assert_eq!(frame.length_form, LengthForm::for_len(frame.payload.len() as u64));
    }

    #[test]
    fn fragments_reassemble_to_the_message(
        text in "\\PC{0,200}",
        pieces in 1usize..12,
    ) {
        let mut a = Assembler::new(1 << 20);
        let mut got = None;
        for f in fragments(Opcode::Text, text.as_bytes(), pieces, || Some([1, 2, 3, 4])) {
            let wire = f.encode();
            let Ok(Parsed::Complete { frame, .. }) = parse(&wire, Role::Server, 1 << 20) else {
                return Err(TestCaseError::fail("a fragment did not parse"));
            };
            got = a.push(frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assert_eq!(got, Some(WsMessage::Text(text)));
    }
}
