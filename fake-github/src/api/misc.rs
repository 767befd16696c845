//! `POST /app/installations/{id}/access_tokens`, `GET /rate_limit` and `GET /meta`.

use serde_json::{json, Value};

use super::{error, not_found, object, ApiReq, Reply};
use crate::budget::BudgetView;
use crate::timefmt::iso;

/// Exchanges an App JWT (already verified by the pipeline) for an installation token.
pub fn access_tokens(req: &ApiReq<'_>, installation_id: &str) -> Reply {
    let Ok(id) = installation_id.parse::<u64>() else {
        return not_found();
    };
    // Each installation belongs to one App: the enterprise's to the enterprise App, the orgs'
    // to the main App; another App's JWT finds nothing (404), as on GitHub.
    let jwt_app = match req.cred {
        crate::auth::Credential::App { app_id } => Some(*app_id),
        _ => None,
    };
    let enterprise_app = req.state.auth.enterprise_app_id();
    let enterprise = id == crate::copilot::enterprise_installation_id(req.state.world.seed);
    let permissions = if enterprise {
        if enterprise_app.is_none() || jwt_app != enterprise_app {
            return not_found();
        }
        json!({"enterprise_copilot_metrics": "read"})
    } else {
        if req.state.world.org_by_installation(id).is_none()
            || (enterprise_app.is_some() && jwt_app == enterprise_app)
        {
            return not_found();
        }
        json!({"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read",
               "organization_copilot_metrics": "read", "organization_copilot_seat_management": "read"})
    };
    let (token, expires_at) = req.state.auth.issue(id, req.now);
    let body = json!({
        "token": token,
        "expires_at": iso(expires_at as i64),
        "permissions": permissions,
        "repository_selection": "all"
    });
    Reply::Plain {
        status: 201,
        body: super::json_bytes(&body),
    }
}

fn budget_json(v: BudgetView) -> Value {
    json!({"limit": v.limit, "used": v.used, "remaining": v.remaining, "reset": v.reset})
}

/// `GET /rate_limit`: free, as on GitHub.
pub fn rate_limit(req: &ApiReq<'_>) -> Reply {
    if matches!(req.cred, crate::auth::Credential::Anonymous) {
        return error(401, "Requires authentication");
    }
    let key = req.cred.budget_key();
    let core = budget_json(req.state.core.peek(&key, req.now));
    let search = budget_json(req.state.search.peek(&key, req.now));
    let reset = (req.now + 3600.0).floor() as i64;
    let unused =
        |limit: u32| json!({"limit": limit, "used": 0, "remaining": limit, "reset": reset});
    object(
        200,
        &json!({
            "resources": {
                "core": core,
                "search": search,
                "graphql": budget_json(req.state.graphql.peek(&key, req.now)),
                "integration_manifest": unused(5000),
                "code_search": unused(10),
                "code_scanning_upload": unused(1000),
                "actions_runner_registration": unused(10000),
                "scim": unused(15000),
                "dependency_snapshots": unused(100)
            },
            "rate": core
        }),
    )
}

/// `GET /meta` (anonymous allowed).
pub fn meta(_req: &ApiReq<'_>) -> Reply {
    object(
        200,
        &json!({
            "verifiable_password_authentication": false,
            "ssh_key_fingerprints": {"SHA256_RSA": "uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"},
            "hooks": ["192.30.252.0/22"],
            "web": ["192.30.252.0/22"],
            "api": ["192.30.252.0/22"],
            "git": ["192.30.252.0/22"],
            "packages": ["140.82.121.33/32"],
            "pages": ["192.30.252.153/32"],
            "importer": ["52.23.85.212/32"],
            "actions": ["4.175.114.51/32"],
            "dependabot": ["192.168.7.0/32"],
            "domains": {"website": ["*.github.com"]}
        }),
    )
}
