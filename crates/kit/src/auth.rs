//! Bearer-key authentication.
//!
//! `Authorization: Bearer <key>`. The key is hashed (SHA-256) and looked up
//! among the stored keys; revoked keys stop working at once. The bootstrap
//! admin key comes from the Spin variable `admin_api_key` and is compared by
//! hash too, so no secret is compared byte by byte. No key → 401; a key
//! whose roles do not allow the action → 403 ([`require`]).

use sales_domain::auth::{hash_api_key, Action, Role};
use sales_domain::ids::PrincipalId;
use sales_store::{api_keys, Db};

use crate::http::ApiRequest;
use crate::problem::ApiError;

pub use sales_domain::auth::Principal;

/// The fixed id of the bootstrap admin (a valid UUID v7 bit pattern), so its
/// idempotency keys and audit entries are stable across restarts.
pub const BOOTSTRAP_ADMIN_ID: &str = "00000000-0000-7000-8000-000000000001";

/// The key in `Authorization: Bearer <key>`.
pub fn bearer(req: &ApiRequest) -> Result<&str, ApiError> {
    let header = req.header("authorization").ok_or_else(|| {
        ApiError::unauthorized("send an API key as `Authorization: Bearer <key>`")
    })?;
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <key>`"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <key>`",
        ));
    }
    Ok(token)
}

/// The principal behind the request's key.
pub fn authenticate(
    db: &impl Db,
    req: &ApiRequest,
    admin_key: Option<&str>,
) -> Result<Principal, ApiError> {
    let token = bearer(req)?;
    let hash = hash_api_key(token);
    if let Some(admin) = admin_key {
        if hash_api_key(admin) == hash {
            return bootstrap_admin();
        }
    }
    match api_keys::find_active_by_hash(db, &hash)? {
        Some(key) => Ok(key.principal().clone()),
        None => Err(ApiError::unauthorized("the API key is unknown or revoked")),
    }
}

fn bootstrap_admin() -> Result<Principal, ApiError> {
    let id = PrincipalId::parse(BOOTSTRAP_ADMIN_ID)
        .map_err(|e| ApiError::internal(format!("bootstrap admin id: {e}")))?;
    Principal::new(id, "bootstrap admin", [Role::Admin])
        .map_err(|e| ApiError::internal(format!("bootstrap admin: {e}")))
}

/// 403 unless the principal's roles allow `action`.
pub fn require(principal: &Principal, action: Action) -> Result<(), ApiError> {
    principal
        .require(action)
        .map_err(|e| ApiError::forbidden(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(auth: Option<&str>) -> ApiRequest {
        let r = ApiRequest::new(Method::Get, "/api/v1/me");
        match auth {
            Some(a) => r.with_header("Authorization", a),
            None => r,
        }
    }

    #[test]
    fn bearer_token_is_extracted() {
        assert_eq!(bearer(&req(Some("Bearer sk_abc"))).unwrap(), "sk_abc");
        assert_eq!(bearer(&req(Some("bearer  sk_abc "))).unwrap(), "sk_abc");
    }

    #[test]
    fn missing_or_foreign_schemes_are_401() {
        for auth in [
            None,
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer "),
            Some("sk_abc"),
        ] {
            let e = bearer(&req(auth)).unwrap_err();
            assert_eq!((e.status(), e.code()), (401, "unauthorized"), "{auth:?}");
        }
    }

    #[test]
    fn bootstrap_admin_id_is_a_valid_principal_id() {
        assert!(bootstrap_admin().unwrap().has_role(Role::Admin));
    }
}
