//! A path and the methods it serves. Any other method is answered 405 with
//! an `Allow` header built from the routes themselves, so the header never
//! drifts from what the path serves.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::http::header::HeaderValue;
use actix_web::{FromRequest, Handler, HttpRequest, Resource, Responder, web};

use crate::problem::method_not_allowed;

/// A resource built method by method: `Endpoint::new("/v1/jobs").get(list).post(create)`.
pub struct Endpoint {
    resource: Resource,
    methods: Vec<Method>,
}

/// One builder method per HTTP method, each serving its handler through
/// [`Endpoint::serve`].
macro_rules! methods {
    ($($name:ident => $method:ident),+ $(,)?) => {
        $(
            #[doc = concat!("Serves `", stringify!($method), "` with `handler`.")]
            pub fn $name<F, Args>(self, handler: F) -> Self
            where
                F: Handler<Args>,
                Args: FromRequest + 'static,
                F::Output: Responder + 'static,
            {
                self.serve(Method::$method, handler)
            }
        )+
    };
}

impl Endpoint {
    pub fn new(path: &str) -> Self {
        Self { resource: web::resource(path), methods: Vec::new() }
    }

    methods! {
        get => GET,
        head => HEAD,
        post => POST,
        put => PUT,
        patch => PATCH,
        delete => DELETE,
    }

    fn serve<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::method(method.clone()).to(handler));
        self.methods.push(method);
        self
    }

    /// The `Allow` header: the methods in the order they were added.
    fn allow(&self) -> HeaderValue {
        let methods: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        // Method names are tokens, always a valid header value.
        HeaderValue::from_str(&methods.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl HttpServiceFactory for Endpoint {
    fn register(self, config: &mut AppService) {
        let allow = self.allow();
        let refuse = move |req: HttpRequest| {
            let allow = allow.clone();
            async move { method_not_allowed(&req, &allow) }
        };
        self.resource.default_service(web::to(refuse)).register(config);
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::{StatusCode, header};
    use actix_web::{App, HttpResponse, test};

    use super::*;

    async fn ok() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn other_methods_are_405_with_the_served_ones_in_allow() {
        let app = test::init_service(App::new().service(Endpoint::new("/things").get(ok).post(ok))).await;
        let served = test::call_service(&app, test::TestRequest::post().uri("/things").to_request()).await;
        assert_eq!(served.status(), StatusCode::OK);
        let refused = test::call_service(&app, test::TestRequest::patch().uri("/things").to_request()).await;
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(refused.headers().get(header::ALLOW).unwrap(), "GET, POST");
        assert_eq!(refused.headers().get(header::CONTENT_TYPE).unwrap(), "application/problem+json");
        let body: serde_json::Value = test::read_body_json(refused).await;
        assert_eq!(body["status"], 405);
        assert_eq!(body["detail"], "/things does not take PATCH");
    }
}
