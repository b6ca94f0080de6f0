use lambda_http::{Body, Error, Request, Response, service_fn};
use lambda_perf_core::instrument_lambda;

#[instrument_lambda(name = "web")]
async fn handler(request: Request) -> Result<Response<Body>, Error> {
    let path = request.uri().path().to_owned();
    Ok(Response::builder().status(200).body(Body::from(path))?)
}

fn main() {
    let _service = service_fn(handler);
}
