//! The `/parley/federation/1` codec: one MessagePack message per stream, read up to its size limit.
//! The request-response handler closes the writing side after a message, so a message is everything
//! until end of stream; reading one byte past the limit tells an oversized message from a full one.

use std::io;

use libp2p::StreamProtocol;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use protocol::federation::{self as wire, FederationError, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, Request, Response};

/// Encodes and decodes federation messages; stateless.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_limited(io, MAX_REQUEST_BYTES).await?;
        wire::decode_request(&bytes).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_limited(io, MAX_RESPONSE_BYTES).await?;
        wire::decode_response(&bytes).map_err(invalid)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: Request) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes = wire::encode_request(&request).map_err(invalid)?;
        io.write_all(&bytes).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Response) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes = wire::encode_response(&response).map_err(invalid)?;
        io.write_all(&bytes).await
    }
}

/// Reads until end of stream, refusing (without buffering more than `limit + 1` bytes) anything longer.
pub(crate) async fn read_limited<T: AsyncRead + Unpin>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io.take(limit as u64 + 1).read_to_end(&mut bytes).await?;
    if bytes.len() > limit {
        return Err(invalid(FederationError::TooLarge {
            size: bytes.len(),
            limit,
        }));
    }
    Ok(bytes)
}

fn invalid(err: FederationError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err)
}

#[cfg(test)]
mod tests {
    use libp2p::futures::io::Cursor;
    use libp2p::request_response::Codec as _;

    use super::*;

    fn protocol() -> StreamProtocol {
        StreamProtocol::new(wire::PROTOCOL)
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_request_round_trips() {
        block_on(async {
            let request = Request::ResolveUser { username: "ann".into() };
            let mut buffer = Cursor::new(Vec::new());
            Codec
                .write_request(&protocol(), &mut buffer, request.clone())
                .await
                .unwrap();
            let mut reader = Cursor::new(buffer.into_inner());
            assert_eq!(Codec.read_request(&protocol(), &mut reader).await.unwrap(), request);
        });
    }

    #[test]
    fn malformed_requests_are_invalid_data_not_panics() {
        block_on(async {
            let garbage: [&[u8]; 5] = [
                b"",
                b"\xc1",
                b"\x81\xa5Hello\xc0",
                b"\xdd\xff\xff\xff\xff",
                &[0x92; 300],
            ];
            for bytes in garbage {
                let err = Codec
                    .read_request(&protocol(), &mut Cursor::new(bytes.to_vec()))
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            }
        });
    }

    #[test]
    fn oversized_messages_are_refused() {
        block_on(async {
            let big = vec![0u8; MAX_REQUEST_BYTES + 10];
            let err = Codec
                .read_request(&protocol(), &mut Cursor::new(big))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains("exceeds the limit"), "{err}");
        });
    }
}
