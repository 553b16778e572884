//! Requests to the outbound API, as a client program makes them.

use serde_json::Value;

use super::TestApp;

/// The token the outbound tests' profile sets.
pub const API_TOKEN: &str = "test-api-token-0123456789abcdef";

/// The profile line that turns the outbound API on.
pub fn api_profile() -> String {
    format!("api_token = \"{API_TOKEN}\"")
}

impl TestApp {
    /// An API request with `Authorization: Bearer TOKEN` when a token is given and a JSON body
    /// when one is given: status and the JSON answer (`Null` when there is none).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.address);
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        }
        .expect("request reaches the app");
        let bytes = response.body().limit(16 * 1024 * 1024).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (response.status().as_u16(), json)
    }

    /// POSTs texts to a topic with the test token.
    pub async fn send_texts(&self, topic: &str, body: &Value) -> (u16, Value) {
        let path = format!("/api/topics/{topic}/messages");
        self.api("POST", &path, Some(API_TOKEN), Some(body)).await
    }

    /// GETs one text's status with the test token.
    pub async fn text_status(&self, topic: &str, id: &str) -> (u16, Value) {
        let path = format!("/api/topics/{topic}/messages/{id}");
        self.api("GET", &path, Some(API_TOKEN), None).await
    }

    /// Polls a text of topic `sample` until its status is `status` (at most `wait`); its view.
    pub async fn wait_text(&self, id: &str, status: &str, wait: std::time::Duration) -> Value {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let (code, view) = self.text_status("sample", id).await;
            assert_eq!(code, 200, "{view}");
            if view["status"] == status {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "text {id} never became {status}: {view}"
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The ids of an accepted request's texts, in order.
pub fn text_ids(answer: &Value) -> Vec<String> {
    answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}
