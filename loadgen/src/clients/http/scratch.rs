//! One read buffer per client thread instead of one per connection.
//!
//! A streaming connection spends nearly all its life waiting; a buffer of its own would hold
//! (at least) a page of memory per client for nothing. A read instead goes into the thread's
//! scratch buffer inside one poll, the bytes are handed on before the poll returns, and only
//! what the reader did not take (the start of a next answer) is copied out. The buffer is
//! large, so a burst of coalesced messages is taken in one system call.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::clients::ClientError;

/// Bytes one read may bring.
pub const SCRATCH: usize = 32 * 1024;

thread_local! {
    static BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH].into_boxed_slice());
}

/// Polls one read of `io` into the thread's scratch buffer and hands what it brought to
/// `take` (not called at the end of the stream); ready with the number of bytes read.
pub fn read_into<S, T>(
    cx: &mut Context<'_>,
    io: &mut S,
    take: T,
) -> Poll<Result<usize, ClientError>>
where
    S: AsyncRead + Unpin,
    T: FnOnce(&[u8]) -> Result<(), ClientError>,
{
    BUF.with(|cell| {
        // `take` never reads (it only decodes), so the buffer is never borrowed twice; should
        // that change, a fresh buffer keeps it correct.
        let mut own;
        let mut guard = cell.try_borrow_mut();
        let buf: &mut [u8] = match &mut guard {
            Ok(b) => &mut b[..],
            Err(_) => {
                own = vec![0u8; SCRATCH];
                &mut own[..]
            }
        };
        let mut rb = ReadBuf::new(buf);
        match Pin::new(io).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(ClientError::from_io(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n > 0 {
                    take(rb.filled())?;
                }
                Poll::Ready(Ok(n))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hands_over_what_one_read_brings() {
        let (mut a, mut b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut a, b"hello")
            .await
            .unwrap();
        let mut got = Vec::new();
        let n = std::future::poll_fn(|cx| {
            read_into(cx, &mut b, |bytes| {
                got.extend_from_slice(bytes);
                Ok(())
            })
        })
        .await
        .unwrap();
        assert_eq!((n, &got[..]), (5, &b"hello"[..]));
        drop(a);
        let n = std::future::poll_fn(|cx| read_into(cx, &mut b, |_| panic!("no bytes")))
            .await
            .unwrap();
        assert_eq!(n, 0, "end of stream");
    }
}
