//! Every route of the reference app (`gatehouse_app::routes::ROUTES`) in one
//! function, for teams that deploy one Lambda behind an API Gateway proxy
//! integration or a Function URL (`deploy/aws/template-single.yaml`): each
//! request goes to the route its path names, through the same pipeline as
//! the functions under `api/`; an unknown path is `404 route_not_found`.
//! Locally: `cargo lambda watch`, then
//! `cargo lambda invoke all-routes --data-file deploy/aws/events/apigw-http-v2.json`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve_routes(gatehouse_app::routes::ROUTES)
}
