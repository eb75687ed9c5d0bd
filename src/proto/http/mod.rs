//! HTTP/1.1 pieces with no I/O: request heads, message framing (lengths, chunked bodies),
//! query strings and response bytes.
//!
//! ringcast's REST API and the WebSocket upgrade share one small HTTP server; this module
//! turns bytes into requests and responses into bytes, and never reads a socket.

pub mod chunked;
pub mod framing;
pub mod head;
pub mod query;
pub mod response;
pub mod url;

pub use chunked::{ChunkedDecoder, ChunkedError};
pub use framing::{body_framing, keep_alive, BodyFraming, FramingError};
pub use head::{parse_head, HeadError, RequestHead};
pub use query::{parse_query, percent_decode, query_value, QueryError};
pub use response::{reason_phrase, Response};
pub use url::{HttpUrl, UrlError};
