use super::*;

#[test]
fn devcontainer_json_with_comments_and_trailing_commas() {
    let text = r#"{
  // the image
  "image": "ghcr.io/o/dev:1", /* inline */
  "name": "a // not a comment, \" still",
  "features": { "x": {}, },
}"#;
    let value: serde_json::Value = serde_json::from_str(&plain_json(text)).unwrap();
    assert_eq!(value["image"], "ghcr.io/o/dev:1");
    assert_eq!(value["name"], "a // not a comment, \" still");
}
