//! HTTP route matching, exactly as Spin does it: Spin's own choice of the
//! `routefinder` crate, `/...` turned into a trailing `*`, one trailing `/`
//! of a pattern ignored, duplicates resolved in favour of the later entry.

use std::collections::HashMap;

/// What a route maps to.
#[derive(Debug, Clone)]
struct Handler {
    component_id: String,
    /// The route with the (always `/`) base applied.
    based_route: String,
    /// The route as written in the manifest.
    raw_route: String,
}

/// The HTTP router of an application.
#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<Handler>,
}

/// A successful match, with what the `spin-*` headers need.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// Component that handles the request.
    pub component_id: String,
    /// `spin-matched-route`.
    pub based_route: String,
    /// `spin-raw-component-route`.
    pub raw_route: String,
    /// `spin-path-info`.
    pub path_info: String,
    /// `:name` captures, in route order.
    pub captures: Vec<(String, String)>,
}

impl RouteMatch {
    /// The synthetic match Spin uses for service chaining: the whole path is
    /// the wildcard tail of `/...`.
    pub fn synthetic(component_id: &str, path: &str) -> Self {
        Self {
            component_id: component_id.to_string(),
            based_route: "/...".to_string(),
            raw_route: "/...".to_string(),
            path_info: path.to_string(),
            captures: Vec::new(),
        }
    }

    /// `spin-component-route`: the raw route without a trailing `/...`.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

fn sanitize_route(route: &str) -> String {
    let absolute = if route.starts_with('/') {
        route.to_string()
    } else {
        format!("/{route}")
    };
    // Base "/" contributes nothing after its trailing slash is stripped.
    match absolute.strip_suffix('/') {
        Some(s) => s.to_string(),
        None => absolute,
    }
}

impl Router {
    /// Builds the router from `(component id, route pattern)` pairs in
    /// manifest order (private routes must already be left out). Returns the
    /// duplicates `(route, replaced component, effective component)`.
    #[allow(clippy::type_complexity)]
    pub fn build(
        routes: &[(String, String)],
    ) -> Result<(Self, Vec<(String, String, String)>), String> {
        let mut by_raw: Vec<(String, Handler)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for (component_id, raw) in routes {
            let handler = Handler {
                component_id: component_id.clone(),
                based_route: sanitize_route(raw),
                raw_route: raw.clone(),
            };
            if let Some(&i) = index.get(raw) {
                duplicates.push((
                    raw.clone(),
                    by_raw[i].1.component_id.clone(),
                    component_id.clone(),
                ));
                by_raw[i].1 = handler;
            } else {
                index.insert(raw.clone(), by_raw.len());
                by_raw.push((raw.clone(), handler));
            }
        }
        let mut inner = routefinder::Router::new();
        for (_, handler) in by_raw {
            let spec = match handler.based_route.strip_suffix("/...") {
                Some(prefix) => format!("{prefix}/*"),
                None => handler.based_route.clone(),
            };
            let based = handler.based_route.clone();
            let component = handler.component_id.clone();
            inner
                .add(spec.as_str(), handler)
                .map_err(|e| format!("invalid route {based:?} of component {component:?}: {e}"))?;
        }
        Ok((Self { inner }, duplicates))
    }

    /// Finds the component for `path` (no query string).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let m = self.inner.best_match(path)?;
        let handler = m.handler();
        let captures = m.captures();
        let path_info = match captures.wildcard() {
            // Spin keeps the trailing slash that routefinder drops.
            Some(s) => match (s.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_string(),
                (false, false) => format!("/{s}"),
                (false, true) => format!("/{s}/"),
            },
            None => String::new(),
        };
        let named = captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(RouteMatch {
            component_id: handler.component_id.clone(),
            based_route: if handler.based_route.is_empty() {
                "/".to_string()
            } else {
                handler.based_route.clone()
            },
            raw_route: handler.raw_route.clone(),
            path_info,
            captures: named,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let routes: Vec<(String, String)> = routes
            .iter()
            .map(|(c, r)| (c.to_string(), r.to_string()))
            .collect();
        Router::build(&routes).unwrap().0
    }

    fn component(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component_id)
    }

    #[test]
    fn exact_beats_parameter_beats_wildcard() {
        let r = router(&[
            ("wild", "/orders/..."),
            ("param", "/orders/:id"),
            ("exact", "/orders/new"),
        ]);
        assert_eq!(component(&r, "/orders/new").as_deref(), Some("exact"));
        assert_eq!(component(&r, "/orders/42").as_deref(), Some("param"));
        assert_eq!(component(&r, "/orders/42/lines").as_deref(), Some("wild"));
        assert_eq!(component(&r, "/orders").as_deref(), Some("wild"));
    }

    #[test]
    fn longest_wildcard_prefix_wins_regardless_of_order() {
        let r = router(&[
            ("one", "/a/..."),
            ("three", "/a/b/c/..."),
            ("two", "/a/b/..."),
        ]);
        assert_eq!(component(&r, "/a/b/c/d").as_deref(), Some("three"));
        assert_eq!(component(&r, "/a/b/x").as_deref(), Some("two"));
        assert_eq!(component(&r, "/a/x").as_deref(), Some("one"));
    }

    #[test]
    fn path_info_is_the_wildcard_tail() {
        let r = router(&[("c", "/foo/...")]);
        assert_eq!(r.route("/foo").unwrap().path_info, "");
        assert_eq!(r.route("/foo/").unwrap().path_info, "/");
        assert_eq!(r.route("/foo/bar").unwrap().path_info, "/bar");
        assert_eq!(r.route("/foo/bar/").unwrap().path_info, "/bar/");
        assert_eq!(r.route("/foo/bar").unwrap().component_route(), "/foo");
    }

    #[test]
    fn trailing_slash_of_a_pattern_is_ignored_and_no_match_is_none() {
        let r = router(&[("c", "/exact/")]);
        assert!(r.route("/exact").is_some());
        assert!(r.route("/other").is_none());
    }

    #[test]
    fn later_duplicate_route_wins() {
        let routes = vec![
            ("a".to_string(), "/x".to_string()),
            ("b".to_string(), "/x".to_string()),
        ];
        let (r, dups) = Router::build(&routes).unwrap();
        assert_eq!(component(&r, "/x").as_deref(), Some("b"));
        assert_eq!(dups.len(), 1);
    }

    #[test]
    fn named_captures_are_reported() {
        let r = router(&[("c", "/users/:user_id/orders/:order")]);
        let m = r.route("/users/7/orders/9").unwrap();
        assert_eq!(
            m.captures,
            vec![
                ("user_id".to_string(), "7".to_string()),
                ("order".to_string(), "9".to_string())
            ]
        );
    }
}
