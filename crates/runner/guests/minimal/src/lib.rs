//! The smallest spin-sdk HTTP component: answers every request `200` with
//! an empty body and reads nothing of the request (no headers, no body, no
//! URL). The runner bench's "no-op component" row measures it, so the row
//! shows what the runner costs rather than what a guest's request
//! conversion costs (the probe guest's `?op=noop` builds spin-sdk's full
//! `Request` first).
//!
//! `#[http_component]` with two parameters is spin-sdk's raw wasi-http
//! handler form: the `IncomingRequest` is passed through unconverted.

use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
    // Status 200 is the default of a new response.
    let response = OutgoingResponse::new(Fields::new());
    let body = response.body().expect("the body of a new response");
    response_out.set(response);
    // An empty body, finished (no trailers).
    if let Err(e) = OutgoingBody::finish(body, None) {
        eprintln!("finishing the empty body failed: {e:?}");
    }
}
