//! Outbound HTTP for connectors: one request, a deadline, the whole answer.
//!
//! [`crate::spin::post`] (webhook deliveries) sends without a deadline of
//! its own; a connector that a request waits on (the availability check
//! asking an outside inventory) must not hang, so [`call`] sets the WASI
//! `request-options` — connect, first-byte and between-bytes timeouts —
//! which the host enforces (Spin and the sales runner both hand them to
//! their HTTP client). The failure says which of them ran out, or what
//! else went wrong, in one line a problem detail or a log can carry.
//!
//! The host must be in the component's `allowed_outbound_hosts`; a denied
//! one is [`OutboundError::Denied`].

use std::time::Duration;

use spin_sdk::http::{Headers, IncomingResponse, Method, OutgoingRequest, Scheme};
use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
use spin_sdk::wit::wasi::http0_2_0::types::{ErrorCode, OutgoingBody, RequestOptions};

/// Bodies are written in chunks of at most this (the WASI stream's limit
/// for one blocking write).
const CHUNK: usize = 4096;

/// What [`call`] answers: the status and the body, whatever the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a call got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("invalid URL {url:?}: {why}")]
    InvalidUrl { url: String, why: String },
    #[error("the host of {url} is not in allowed_outbound_hosts")]
    Denied { url: String },
    #[error("no answer from {url} within {ms} ms ({what})")]
    Timeout {
        url: String,
        ms: u128,
        what: &'static str,
    },
    #[error("{url}: {why}")]
    Failed { url: String, why: String },
}

/// Sends `method url` with `headers` and `body`, waiting at most `timeout`
/// to connect, then at most `timeout` for the first byte and between bytes.
pub fn call(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Reply, OutboundError> {
    let failed = |why: String| OutboundError::Failed {
        url: url.to_owned(),
        why,
    };
    let parsed = url::Url::parse(url).map_err(|e| OutboundError::InvalidUrl {
        url: url.to_owned(),
        why: e.to_string(),
    })?;
    let scheme = match parsed.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(OutboundError::InvalidUrl {
                url: url.to_owned(),
                why: format!("the scheme {other:?} is not http or https"),
            })
        }
    };
    let host = parsed.host_str().ok_or_else(|| OutboundError::InvalidUrl {
        url: url.to_owned(),
        why: "no host".into(),
    })?;
    let authority = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let mut path = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_owned()),
    };

    let fields: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let headers = Headers::from_list(&fields).map_err(|e| failed(format!("bad header: {e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let set = |ok: Result<(), ()>, what: &str| ok.map_err(|()| failed(format!("invalid {what}")));
    set(request.set_method(&method), "method")?;
    set(request.set_scheme(Some(&scheme)), "scheme")?;
    set(request.set_authority(Some(&authority)), "authority")?;
    set(request.set_path_with_query(Some(&path)), "path")?;
    let outgoing = request
        .body()
        .map_err(|()| failed("the request body was taken".into()))?;

    let options = RequestOptions::new();
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    // A host that does not support one of them keeps its own default.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));

    let pending =
        outgoing_handler::handle(request, Some(options)).map_err(|e| error(url, timeout, &e))?;
    {
        let stream = outgoing
            .write()
            .map_err(|()| failed("the request body stream was taken".into()))?;
        for chunk in body.unwrap_or_default().chunks(CHUNK) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| failed(format!("could not send the body: {e:?}")))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| error(url, timeout, &e))?;

    pending.subscribe().block();
    let response: IncomingResponse = match pending.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(error(url, timeout, &e)),
        Some(Err(())) => return Err(failed("the response was already taken".into())),
        None => return Err(failed("no response after waiting for it".into())),
    };
    let status = response.status();
    let body = spin_sdk::http::run(response.into_body())
        .map_err(|e| failed(format!("could not read the answer: {e:?}")))?;
    Ok(Reply { status, body })
}

fn error(url: &str, timeout: Duration, e: &ErrorCode) -> OutboundError {
    let timeout = |what| OutboundError::Timeout {
        url: url.to_owned(),
        ms: timeout.as_millis(),
        what,
    };
    match e {
        ErrorCode::HttpRequestDenied => OutboundError::Denied {
            url: url.to_owned(),
        },
        ErrorCode::ConnectionTimeout => timeout("connecting"),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            timeout("waiting for the answer")
        }
        ErrorCode::ConnectionWriteTimeout => timeout("sending"),
        ErrorCode::ConnectionRefused => OutboundError::Failed {
            url: url.to_owned(),
            why: "connection refused".into(),
        },
        other => OutboundError::Failed {
            url: url.to_owned(),
            why: format!("{other:?}"),
        },
    }
}
