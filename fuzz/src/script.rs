//! The `ratchet_header` target's input: a script of steps in a plain byte format, so the seed corpus
//! can write scripts that reach deep into a conversation. Each step is an opcode byte (taken modulo the
//! number of opcodes) and its operands; a step cut short ends the script.
//!
//! ```text
//! 0 | 1                         Alice | Bob sends a message
//! 2, index                      the in-flight message at index (modulo their number) is delivered
//! 3, index, part, at (2), xor   ... with byte `at` of its header (part odd) or ciphertext xor-ed
//! 4 | 5, len, header, len, ct   Alice | Bob receives header and ciphertext bytes nobody encrypted
//! ```

/// One step of a conversation between the two ends of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// One side encrypts a message; it stays in flight, deliverable any number of times.
    Send {
        /// Alice sends, else Bob.
        from_alice: bool,
    },
    /// An in-flight message reaches its recipient, as sent or changed.
    Deliver {
        /// Which message, modulo the number in flight.
        index: u8,
        /// The change made on the way, if any.
        tamper: Option<Tamper>,
    },
    /// Bytes nobody encrypted reach one side.
    Forge {
        /// Alice receives them, else Bob.
        to_alice: bool,
        /// At most 255 bytes.
        header: Vec<u8>,
        /// At most 255 bytes.
        ciphertext: Vec<u8>,
    },
}

/// One byte of a message changed on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tamper {
    /// The header's byte, else the ciphertext's.
    pub in_header: bool,
    /// Which byte, modulo the part's length.
    pub at: u16,
    /// The bits flipped; 0 changes nothing.
    pub xor: u8,
}

const OPCODES: u8 = 6;

/// Reads a script, up to the first step cut short.
pub fn parse(mut bytes: &[u8]) -> Vec<Step> {
    let mut steps = Vec::new();
    while let Some(step) = next(&mut bytes) {
        steps.push(step);
    }
    steps
}

fn next(bytes: &mut &[u8]) -> Option<Step> {
    let op = take(bytes, 1)?[0] % OPCODES;
    Some(match op {
        0 | 1 => Step::Send { from_alice: op == 0 },
        2 => Step::Deliver {
            index: take(bytes, 1)?[0],
            tamper: None,
        },
        3 => {
            let operands = take(bytes, 5)?;
            Step::Deliver {
                index: operands[0],
                tamper: Some(Tamper {
                    in_header: operands[1] % 2 == 1,
                    at: u16::from_be_bytes([operands[2], operands[3]]),
                    xor: operands[4],
                }),
            }
        }
        _ => {
            let header_len = take(bytes, 1)?[0];
            let header = take(bytes, usize::from(header_len))?.to_vec();
            let ciphertext_len = take(bytes, 1)?[0];
            let ciphertext = take(bytes, usize::from(ciphertext_len))?.to_vec();
            Step::Forge {
                to_alice: op == 4,
                header,
                ciphertext,
            }
        }
    })
}

fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    let (head, rest) = bytes.split_at_checked(len)?;
    *bytes = rest;
    Some(head)
}

/// Writes a script [`parse`] reads back; forged parts are cut to 255 bytes.
pub fn encode(steps: &[Step]) -> Vec<u8> {
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Send { from_alice } => out.push(if *from_alice { 0 } else { 1 }),
            Step::Deliver { index, tamper: None } => out.extend([2, *index]),
            Step::Deliver {
                index,
                tamper: Some(tamper),
            } => {
                let [high, low] = tamper.at.to_be_bytes();
                out.extend([3, *index, u8::from(tamper.in_header), high, low, tamper.xor]);
            }
            Step::Forge {
                to_alice,
                header,
                ciphertext,
            } => {
                out.push(if *to_alice { 4 } else { 5 });
                for part in [header, ciphertext] {
                    let len = u8::try_from(part.len()).unwrap_or(u8::MAX);
                    out.push(len);
                    out.extend_from_slice(&part[..usize::from(len)]);
                }
            }
        }
    }
    out
}
